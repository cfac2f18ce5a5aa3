package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/cli/bench"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// floorPairs is how many pairs of engine runs (alone, then beside the
// echo's traffic) throughputFloor measures.
const floorPairs = 2

// throughputFloor measures, after a missed throughput target, what a
// server that added nothing to the network floor could reach on this
// machine with this client, against the same engine figure eng:
//
//   - at 1 client, where requests do not overlap the engine's runs: the
//     engine's time per inference plus the echo's mean round trip of the
//     same request (600 KB in, 4 KB answered), as a share of the engine's
//     throughput;
//   - beside the engine: its throughput at 1 caller while the echo takes
//     the same requests at ovms's measured rate (the client's and the
//     server's CPU for the tensor's transfer competing with the engine's
//     threads, as at 2 or more clients), against its throughput alone,
//     in alternating pairs.
//
// It returns the cause line's part, "" when nothing could be measured.
func (s *suite) throughputFloor(model string, eng, ov *measurement) string {
	echo := s.echoRun(model)
	var parts []string
	if echo.problem() == "" && eng.Level.Throughput > 0 {
		per := 1 / eng.Level.Throughput // seconds per inference
		mean := echo.Level.Mean.Seconds()
		parts = append(parts, fmt.Sprintf("at 1 client %.3f (the engine's %.1f ms an inference plus the echo's mean round trip of the same request, %.0fus)",
			per/(per+mean), 1000*per, 1e6*mean))
	}
	var ratios []string
	var vals, cpus []float64
	for r := range floorPairs {
		s.suffix = fmt.Sprintf(" (floor pair %d)", r+1)
		alone := s.engineRun(model, 1)
		beside, cpu := s.engineBeside(model, ov.Level.Throughput)
		if alone.problem() == "" && beside.problem() == "" && alone.Level.Throughput > 0 {
			v := beside.Level.Throughput / alone.Level.Throughput
			vals = append(vals, v)
			ratios = append(ratios, fmt.Sprintf("%.3f", v))
		}
		if cpu > 0 {
			cpus = append(cpus, ms(cpu))
		}
	}
	s.suffix = ""
	if len(vals) > 0 {
		parts = append(parts, fmt.Sprintf("beside the engine %.3f (its throughput with the echo taking the same requests at ovms's %.1f/s beside it, against alone; pairs %s)",
			mean(vals), ov.Level.Throughput, strings.Join(ratios, ", ")))
	}
	if len(cpus) > 0 && ov.CoreBusy > 0 && ov.Level.Throughput > 0 {
		parts = append(parts, fmt.Sprintf("the echo server used %.2f ms of CPU a request beside the engine, ovms's core %.2f ms an inference",
			mean(cpus), 1000*ov.CoreBusy/ov.Level.Throughput))
	}
	if len(parts) == 0 {
		return ""
	}
	return "a server that added nothing to the network floor (a bare gRPC echo of the request, same client) would reach, of the engine: " + strings.Join(parts, "; ")
}

// mean is the arithmetic mean of vs (0 for none).
func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	var t float64
	for _, v := range vs {
		t += v
	}
	return t / float64(len(vs))
}

// engineBeside measures the engine on model at 1 caller while the echo
// server takes model's requests at rate per second beside it, and returns
// the echo server's CPU per request it answered meanwhile (0 when not
// known); the log says how many it answered.
func (s *suite) engineBeside(model string, rate float64) (m *measurement, echoCPU time.Duration) {
	var answered, failed atomic.Int64
	var took, cpu time.Duration
	m = s.measure(fmt.Sprintf("engine %s (%d threads), the echo taking its requests at %.1f/s beside it%s", model, engineThreads(), rate, s.suffix), func() (*bench.Report, error) {
		if rate <= 0 {
			return nil, fmt.Errorf("no rate to send at")
		}
		if s.echo == nil && s.echoErr == nil {
			s.echo, s.echoErr = startEcho()
		}
		if s.echoErr != nil {
			return nil, s.echoErr
		}
		e, err := newEngine(s.opt.modelsDir, model, nil)
		if err != nil {
			return nil, err
		}
		defer e.close()
		stop, err := s.echoTraffic(model, rate, &answered, &failed)
		if err != nil {
			return nil, err
		}
		cfg := s.load
		cfg.Concurrency = []int{1}
		pid := s.echo.cmd.Process.Pid
		t0, cpu0 := time.Now(), procCPU(pid)
		rep, err := bench.Measure(s.ctx, cfg, e.doer)
		took, cpu = time.Since(t0), procCPU(pid)-cpu0
		stop()
		if err == nil && failed.Load() > 0 {
			err = fmt.Errorf("the echo failed %d of its requests beside the engine", failed.Load())
		}
		return rep, err
	})
	n := answered.Load()
	if m.Err != "" || took <= 0 || n == 0 {
		return m, 0
	}
	echoCPU = cpu / time.Duration(n)
	fmt.Fprintf(s.log, "  the echo answered %d requests beside it (%.1f/s), %.2f ms of its CPU each\n", n, float64(n)/took.Seconds(), ms(echoCPU))
	return m, echoCPU
}

// echoTraffic sends model's request (random input bytes, marshalled once,
// as ovms bench sends it) to the echo server at rate per second, one at a
// time on one connection with ovms bench's flow-control windows, until the
// returned stop is called; answered and failed count the answers.
func (s *suite) echoTraffic(model string, rate float64, answered, failed *atomic.Int64) (stop func(), err error) {
	em, ok := echoModels[model]
	if !ok {
		return nil, fmt.Errorf("no echo model %s", model)
	}
	n := int64(4)
	for _, d := range em.shape {
		n *= d
	}
	raw := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(rng.UintN(256))
	}
	req, err := proto.Marshal(&kpb.ModelInferRequest{ModelName: model,
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: em.input, Datatype: "FP32", Shape: em.shape}},
		RawInputContents: [][]byte{raw}})
	if err != nil {
		return nil, err
	}
	conn, err := bench.DialGRPC(s.echo.addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			resp := &kpb.ModelInferResponse{}
			if err := bench.InvokeEncoded(ctx, conn, kpb.GRPCInferenceService_ModelInfer_FullMethodName, req, resp); err != nil {
				if ctx.Err() == nil {
					failed.Add(1)
				}
				continue
			}
			answered.Add(1)
		}
	}()
	return func() {
		cancel()
		<-done
		_ = conn.Close()
	}, nil
}
