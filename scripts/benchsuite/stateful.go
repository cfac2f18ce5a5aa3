package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ovmsgo/ovms/cli/bench"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// statefulModel is the RNN-style model of the stateful group: x and h_in
// [1,256] give out and h_out (scripts/testmodels/stateful.go).
const (
	statefulModel = "rnn_stateful_256"
	statefulWidth = 256
)

// statefulSteps is the length of each benchmarked sequence: every
// statefulSteps-th step starts a new one, the one before ends it.
const statefulSteps = 100

// statefulRun measures one step of a sequence, 1 client over KServe gRPC,
// with server-held state (a --stateful model: the request carries x and
// the sequence in Triton's parameters) and with the state sent in every
// request (the same model file served stateless: the client sends h_in and
// feeds the h_out it gets back into the next request). One ovms serves
// both models, in one plugin process, and the client alternates between
// them in blocks of steps, so that both see the same process and load;
// it returns the two measurements (held, sent) and the block pairs' ratios
// (held / sent, sorted).
func (s *suite) statefulRun() (held, sent *measurement, ratios []float64) {
	names := [2]string{
		"ovms " + statefulModel + " kserve-grpc, server-held state (--stateful)" + s.suffix,
		"ovms " + statefulModel + " kserve-grpc, state sent in every request" + s.suffix,
	}
	ms, ratios := s.measurePair(names, s.interleavedSteps)
	return ms[0], ms[1], ratios
}

// statefulConfig writes the config.json of the stateful group into dir:
// the bench model twice, stateful (held) and stateless (sent).
func statefulConfig(dir, modelsDir string) (string, error) {
	base, err := filepath.Abs(filepath.Join(modelsDir, statefulModel))
	if err != nil {
		return "", err
	}
	return writeConfig(dir,
		map[string]any{"name": statefulHeld, "base_path": base, "stateful": true, "state_mapping": map[string]string{"h_in": "h_out"}},
		map[string]any{"name": statefulSent, "base_path": base})
}

// The stateful group's two models (see statefulConfig).
const (
	statefulHeld = "rnn_held"
	statefulSent = "rnn_sent"
)

// interleavedSteps runs the two stateful configurations side by side, in
// alternating blocks of steps. It returns their levels and, sorted, the
// ratios over block pairs of the blocks' median step latencies (held /
// sent), whose median is the group's figure: load that drifts while the
// benchmark runs hits both blocks of a pair alike and cancels out.
func (s *suite) interleavedSteps() ([2]bench.Level, []float64, error) {
	var out [2]bench.Level
	srv, stop, err := s.serveConfig("ovms-bench-stateful-", func(dir string) (string, error) { return statefulConfig(dir, s.opt.modelsDir) })
	if err != nil {
		return out, nil, err
	}
	defer stop()
	conn, err := grpc.NewClient(srv.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return out, nil, err
	}
	defer conn.Close()
	client := kpb.NewGRPCInferenceServiceClient(conn)
	steppers := [2]*stepper{
		{client: client, model: statefulHeld, serverHeld: true, id: 1, h: make([]float32, statefulWidth), x: make([]float32, statefulWidth)},
		{client: client, model: statefulSent, h: make([]float32, statefulWidth), x: make([]float32, statefulWidth)},
	}
	warmup, window := s.load.Warmup, s.load.Window*time.Duration(max(1, s.load.MaxTrials/2))
	// Blocks of consecutive steps of one model, then of the other (see
	// blockPairs): the held model's block first in every pair.
	const block, settle = 40, 4
	r := blockPairs(s.ctx, [2]func(context.Context) error{steppers[0].step, steppers[1].step}, block, settle, warmup, window, false)
	if err := s.ctx.Err(); err != nil {
		return out, nil, err
	}
	return r.levels(window)
}

// stepper runs the steps of one client's sequences.
type stepper struct {
	client     kpb.GRPCInferenceServiceClient
	model      string
	serverHeld bool
	id         uint64
	n          int
	h, x       []float32
}

func (st *stepper) step(ctx context.Context) error {
	for i := range st.x {
		st.x[i] = float32(math.Sin(float64(st.n + i)))
	}
	req := &kpb.ModelInferRequest{ModelName: st.model, Inputs: []*kpb.ModelInferRequest_InferInputTensor{
		{Name: "x", Datatype: "FP32", Shape: []int64{1, statefulWidth}, Contents: &kpb.InferTensorContents{Fp32Contents: st.x}}}}
	pos := st.n % statefulSteps
	if st.serverHeld {
		req.Parameters = map[string]*kpb.InferParameter{
			"sequence_id":    {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: int64(st.id)}},
			"sequence_start": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: pos == 0}},
			"sequence_end":   {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: pos == statefulSteps-1}},
		}
	} else {
		if pos == 0 {
			clear(st.h)
		}
		req.Inputs = append(req.Inputs, &kpb.ModelInferRequest_InferInputTensor{Name: "h_in", Datatype: "FP32", Shape: []int64{1, statefulWidth},
			Contents: &kpb.InferTensorContents{Fp32Contents: st.h}})
	}
	resp, err := st.client.ModelInfer(ctx, req)
	if err != nil {
		return err
	}
	st.n++
	if st.serverHeld {
		return nil
	}
	for i, o := range resp.GetOutputs() {
		if o.GetName() == "h_out" && i < len(resp.GetRawOutputContents()) {
			b := resp.GetRawOutputContents()[i]
			if len(b) != 4*statefulWidth {
				return fmt.Errorf("h_out: %d bytes", len(b))
			}
			for j := range st.h {
				st.h[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			}
			return nil
		}
	}
	return fmt.Errorf("no h_out in the response")
}
