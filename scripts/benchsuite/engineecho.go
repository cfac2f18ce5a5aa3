package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/ovmsgo/ovms/cli/bench"
	grpcapi "github.com/ovmsgo/ovms/core/api/grpc"
	"github.com/ovmsgo/ovms/internal/coreprocs"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// engineEchoFlag runs the suite as the engine echo server: the echo's
// "empty" model, whose every request runs the raw engine once, in the
// server's own process, on tensors it holds (as shared memory holds a
// client's) before the empty answer. It is the floor of any server for
// the client shared memory target: a gRPC round trip and the engine's run,
// with nothing between them (no second process, no validation).
const engineEchoFlag = "-engine-echo-server"

// engineEcho is the echo server with an engine behind its empty model.
type engineEcho struct {
	echoServer
	mu sync.Mutex // one run at a time, as one stream of the plugin
	do bench.Doer
}

// ModelInfer runs the engine once for the empty model; others are echoed.
func (e *engineEcho) ModelInfer(ctx context.Context, req *kpb.ModelInferRequest) (*kpb.ModelInferResponse, error) {
	if req.ModelName != "empty" {
		return e.echoServer.ModelInfer(ctx, req)
	}
	e.mu.Lock()
	err := e.do.Do(ctx)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return e.echoServer.ModelInfer(ctx, req)
}

// engineEchoMain serves the engine echo on 127.0.0.1:port with the model
// of modelsDir until killed (args: port, modelsDir, model).
func engineEchoMain(args []string) int {
	if err := serveEngineEcho(args); err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite: engine echo server:", err)
	}
	return 1
}

func serveEngineEcho(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("want port, models directory and model, got %q", args)
	}
	port, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	if _, err := coreprocs.Limit(); err != nil {
		return err
	}
	eng, err := newEngine(args[1], args[2], nil)
	if err != nil {
		return err
	}
	do, err := eng.doer(0)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(1 << 30), grpc.MaxSendMsgSize(1 << 30)}, grpcapi.FlowControl()...)...)
	kpb.RegisterGRPCInferenceServiceServer(s, &engineEcho{do: do})
	return s.Serve(ln)
}

// engineEchoRun measures the engine echo serving model at 1 client: empty
// requests, each answered after one run of the engine in the server's
// process. The child is stopped after.
func (s *suite) engineEchoRun(model string) *measurement {
	return s.measure("echo empty kserve-grpc, each request running the engine "+model+" in the echo's process"+s.suffix, func() (*bench.Report, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe, engineEchoFlag, strconv.Itoa(port), s.opt.modelsDir, model)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		defer func() {
			_ = cmd.Process.Kill()
			<-exited
		}()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if err := waitReady(addr, 20*time.Second, exited); err != nil {
			return nil, fmt.Errorf("engine echo server: %w", err)
		}
		cfg := s.load
		cfg.Protocol, cfg.URL, cfg.Model, cfg.Concurrency = bench.KServeGRPC, addr, "empty", []int{1}
		return bench.Run(s.ctx, cfg)
	})
}

// engineEchoCause says what the engine echo (m) measured against the
// client shared memory target's limit and ovms (shm): the p50 of a server
// that adds nothing to a gRPC round trip but the engine's run in its own
// process; "" when it was not measured.
func engineEchoCause(m, shm *measurement, limit float64) string {
	if m.problem() != "" || limit <= 0 {
		return ""
	}
	return fmt.Sprintf("a server that added nothing to an empty gRPC round trip but the engine's run in its own process (the echo, same client) measured p50 %.1fus: %.2fx the limit, ovms %.2fx that",
		us(m.Level.P50), us(m.Level.P50)/limit, us(shm.Level.P50)/us(m.Level.P50))
}
