package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	grpcapi "github.com/ovmsgo/ovms/core/api/grpc"
	"github.com/ovmsgo/ovms/internal/coreprocs"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// echoModel is a model the echo server pretends to serve: one FP32 input
// whose bytes come back as the output, or, when answer is set, answered
// with those bytes (zeros of the real model's output size: a network floor
// for a model whose answer is much smaller than its request).
type echoModel struct {
	input, output string
	shape         []int64
	answer        []byte
	answerShape   []int64
}

// echoModels mirror the bench models' signatures, so the same client code
// builds the same payloads; "empty" carries no tensor bytes at all.
var echoModels = map[string]echoModel{
	"dummy":                 {input: "b", output: "a", shape: []int64{1, 10}},
	"add_one_1x3x1024x1024": {input: "input", output: "output", shape: []int64{1, 3, 1024, 1024}},
	"empty":                 {input: "x", output: "y", shape: []int64{0}},
	// resnet50's request (600 KB) and its answer's size (1000 FP32s).
	"resnet50": {input: "input", output: "output", shape: []int64{1, 3, 224, 224}, answer: make([]byte, 4*1000), answerShape: []int64{1, 1000}},
}

// echoServer is a KServe ModelInfer server that answers each request with
// its raw_input_contents as raw_output_contents: the floor for any server
// behind gRPC on this machine.
type echoServer struct {
	kpb.UnimplementedGRPCInferenceServiceServer
}

// ModelMetadata describes an echo model.
func (echoServer) ModelMetadata(_ context.Context, req *kpb.ModelMetadataRequest) (*kpb.ModelMetadataResponse, error) {
	m, ok := echoModels[req.Name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no echo model %s", req.Name)
	}
	return &kpb.ModelMetadataResponse{Name: req.Name, Versions: []string{"1"}, Platform: "echo",
		Inputs:  []*kpb.ModelMetadataResponse_TensorMetadata{{Name: m.input, Datatype: "FP32", Shape: m.shape}},
		Outputs: []*kpb.ModelMetadataResponse_TensorMetadata{{Name: m.output, Datatype: "FP32", Shape: m.outShape()}}}, nil
}

// outShape is the shape of the model's output.
func (m echoModel) outShape() []int64 {
	if m.answer != nil {
		return m.answerShape
	}
	return m.shape
}

// ModelInfer echoes the inputs as outputs (a model with an answer of its
// own gets that).
func (echoServer) ModelInfer(_ context.Context, req *kpb.ModelInferRequest) (*kpb.ModelInferResponse, error) {
	resp := &kpb.ModelInferResponse{ModelName: req.ModelName, ModelVersion: "1", Id: req.Id,
		RawOutputContents: req.RawInputContents}
	if m, ok := echoModels[req.ModelName]; ok && m.answer != nil {
		resp.RawOutputContents = [][]byte{m.answer}
		resp.Outputs = []*kpb.ModelInferResponse_InferOutputTensor{{Name: m.output, Datatype: "FP32", Shape: m.answerShape}}
		return resp, nil
	}
	for _, in := range req.Inputs {
		name := in.Name
		if m, ok := echoModels[req.ModelName]; ok && m.input == name {
			name = m.output
		}
		resp.Outputs = append(resp.Outputs, &kpb.ModelInferResponse_InferOutputTensor{Name: name, Datatype: in.Datatype, Shape: in.Shape})
	}
	return resp, nil
}

// ServerReady lets the parent wait for the child.
func (echoServer) ServerReady(context.Context, *kpb.ServerReadyRequest) (*kpb.ServerReadyResponse, error) {
	return &kpb.ServerReadyResponse{Ready: true}, nil
}

// newEchoGRPC returns a gRPC server with the echo service, the message
// limits ovms uses (core/server) and its flow-control windows
// (grpcapi.FlowControl), so both pay the same transport costs.
func newEchoGRPC() *grpc.Server {
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(1 << 30), grpc.MaxSendMsgSize(1 << 30)}, grpcapi.FlowControl()...)...)
	kpb.RegisterGRPCInferenceServiceServer(s, echoServer{})
	return s
}

// serveEcho is the child process mode: serve the echo on 127.0.0.1:port
// until killed, its Go scheduler on as many CPUs as ovms's core takes
// (internal/coreprocs: OVMS_CORE_GOMAXPROCS, unset by default), so that
// the floor and ovms compare like with like, as they do for the gRPC
// settings.
func serveEcho(port int) error {
	if _, err := coreprocs.Limit(); err != nil {
		return fmt.Errorf("echo server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("echo server: %w", err)
	}
	return newEchoGRPC().Serve(ln)
}

// echoProc is the echo server running in a child process (a Go runtime of
// its own, like ovms), so it does not share the suite's scheduler or GC.
type echoProc struct {
	cmd  *exec.Cmd
	addr string
}

// startEcho re-executes this program in echo mode and waits until it
// answers.
func startEcho() (*echoProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("echo server: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &echoProc{cmd: exec.Command(exe, "-echo-server", strconv.Itoa(port)), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.cmd.Stderr = os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start echo server: %w", err)
	}
	if err := waitReady(p.addr, 10*time.Second, nil); err != nil {
		p.stop()
		return nil, fmt.Errorf("echo server: %w", err)
	}
	return p, nil
}

// stop kills the child and waits for it.
func (p *echoProc) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// waitReady polls addr's ServerReady until it answers, within passes or
// the server's process exits (a value on exited, which is put back; a nil
// exited is not watched).
func waitReady(addr string, within time.Duration, exited chan error) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := kpb.NewGRPCInferenceServiceClient(conn)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited before answering: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := c.ServerReady(ctx, &kpb.ServerReadyRequest{})
		cancel()
		if err == nil && r.Ready {
			return nil
		}
	}
	return fmt.Errorf("%s did not answer within %v", addr, within)
}
