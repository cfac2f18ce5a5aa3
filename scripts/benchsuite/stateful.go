package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

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
	// ovms bench's connection: fixed flow-control windows, no
	// bandwidth-delay probe after each answer.
	conn, err := bench.DialGRPC(srv.grpcAddr)
	if err != nil {
		return out, nil, err
	}
	defer conn.Close()
	steppers := [2]*stepper{
		newStepper(conn, statefulHeld, true, 1),
		newStepper(conn, statefulSent, false, 0),
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
	conn       *grpc.ClientConn
	model      string
	serverHeld bool
	n          int
	h, x       []float32
	// params are the encoded Triton sequence parameters of a held step
	// (protobuf field 4 of ModelInferRequest), for its start, a step
	// within the sequence and its end (see stepParams).
	params [3][]byte
}

// newStepper makes the stepper of one model: serverHeld sends the
// sequence id in Triton's parameters, else the state in h_in.
func newStepper(conn *grpc.ClientConn, model string, serverHeld bool, id uint64) *stepper {
	st := &stepper{conn: conn, model: model, serverHeld: serverHeld, h: make([]float32, statefulWidth), x: make([]float32, statefulWidth)}
	if serverHeld {
		st.params = [3][]byte{stepParams(id, true, false), stepParams(id, false, false), stepParams(id, false, true)}
	}
	return st
}

// stepParams encodes Triton's sequence parameters as the parameters field
// of a ModelInferRequest. A held step appends them to the rest of its
// request, marshalled as usual (protobuf fields may come in any order):
// protobuf-go marshals a map<string, InferParameter> through its generic
// map code, which cost this client 5-10 us a step on the 2-vCPU machine,
// more than the server's whole handling of the parameters. That is the
// client library's cost, not the protocol's (Triton's and OVMS's clients
// marshal with protobuf's C++ code), and ovms bench likewise marshals its
// requests once; both steps still build and marshal the rest of their
// request every time (docs/performance.md, "Eighteenth session on issue
// 16").
func stepParams(id uint64, start, end bool) []byte {
	b, err := proto.Marshal(&kpb.ModelInferRequest{Parameters: map[string]*kpb.InferParameter{
		"sequence_id":    {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: int64(id)}},
		"sequence_start": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: start}},
		"sequence_end":   {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: end}},
	}})
	if err != nil {
		panic(err) // a fixed message of valid fields
	}
	return b
}

// request builds the step's request, encoded: x, and the state h_in
// (sent) or the sequence's parameters (held).
func (st *stepper) request() ([]byte, error) {
	for i := range st.x {
		st.x[i] = float32(math.Sin(float64(st.n + i)))
	}
	req := &kpb.ModelInferRequest{ModelName: st.model, Inputs: []*kpb.ModelInferRequest_InferInputTensor{
		{Name: "x", Datatype: "FP32", Shape: []int64{1, statefulWidth}, Contents: &kpb.InferTensorContents{Fp32Contents: st.x}}}}
	pos := st.n % statefulSteps
	if !st.serverHeld {
		if pos == 0 {
			clear(st.h)
		}
		req.Inputs = append(req.Inputs, &kpb.ModelInferRequest_InferInputTensor{Name: "h_in", Datatype: "FP32", Shape: []int64{1, statefulWidth},
			Contents: &kpb.InferTensorContents{Fp32Contents: st.h}})
	}
	b, err := proto.Marshal(req)
	if err != nil || !st.serverHeld {
		return b, err
	}
	k := 1
	switch pos {
	case 0:
		k = 0
	case statefulSteps - 1:
		k = 2
	}
	return append(b, st.params[k]...), nil
}

func (st *stepper) step(ctx context.Context) error {
	b, err := st.request()
	if err != nil {
		return err
	}
	resp := &kpb.ModelInferResponse{}
	if err := bench.InvokeEncoded(ctx, st.conn, kpb.GRPCInferenceService_ModelInfer_FullMethodName, b, resp); err != nil {
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
