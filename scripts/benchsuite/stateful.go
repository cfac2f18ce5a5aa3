package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

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

// statefulRun measures one step of a sequence, 1 client over KServe gRPC:
// with server-held state (ovms --stateful, the request carries x and the
// sequence in Triton's parameters) or with the state sent in every
// request (the same model stateless: the client sends h_in and feeds the
// h_out it gets back into the next request).
func (s *suite) statefulRun(serverHeld bool) *measurement {
	name := "ovms " + statefulModel + " kserve-grpc, state sent in every request" + s.suffix
	flags := []string(nil)
	if serverHeld {
		name = "ovms " + statefulModel + " kserve-grpc, server-held state (--stateful)" + s.suffix
		flags = []string{"--stateful", "--state_mapping", `{"h_in": "h_out"}`}
	}
	return s.measure(name, func() (*bench.Report, error) {
		srv, err := s.servers.get(statefulModel, flags...)
		if err != nil {
			return nil, err
		}
		conn, err := grpc.NewClient(srv.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		client := kpb.NewGRPCInferenceServiceClient(conn)
		cfg := s.load
		cfg.Concurrency = []int{1}
		return bench.Measure(s.ctx, cfg, func(worker int) (bench.Doer, error) {
			st := &stepper{client: client, serverHeld: serverHeld, id: uint64(worker + 1), h: make([]float32, statefulWidth),
				x: make([]float32, statefulWidth)}
			return bench.DoerFunc(st.step), nil
		})
	})
}

// stepper runs the steps of one client's sequences.
type stepper struct {
	client     kpb.GRPCInferenceServiceClient
	serverHeld bool
	id         uint64
	n          int
	h, x       []float32
}

func (st *stepper) step(ctx context.Context) error {
	for i := range st.x {
		st.x[i] = float32(math.Sin(float64(st.n + i)))
	}
	req := &kpb.ModelInferRequest{ModelName: statefulModel, Inputs: []*kpb.ModelInferRequest_InferInputTensor{
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
