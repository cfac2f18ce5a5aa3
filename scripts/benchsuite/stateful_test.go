package main

import (
	"testing"

	"google.golang.org/protobuf/proto"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestStepRequests checks that a held step's request, its parameters
// appended to the rest, is the request protobuf would make with the map:
// Triton's sequence parameters for the start, a step within and the end of
// each sequence; and that a sent step carries h_in and no parameters.
func TestStepRequests(t *testing.T) {
	held := newStepper(nil, statefulHeld, true, 7)
	for n := range 2*statefulSteps + 1 {
		held.n = n
		b, err := held.request()
		if err != nil {
			t.Fatal(err)
		}
		got := &kpb.ModelInferRequest{}
		if err := proto.Unmarshal(b, got); err != nil {
			t.Fatalf("step %d: %v", n, err)
		}
		pos := n % statefulSteps
		want := &kpb.ModelInferRequest{ModelName: statefulHeld, Inputs: []*kpb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "FP32", Shape: []int64{1, statefulWidth}, Contents: &kpb.InferTensorContents{Fp32Contents: held.x}}},
			Parameters: map[string]*kpb.InferParameter{
				"sequence_id":    {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: 7}},
				"sequence_start": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: pos == 0}},
				"sequence_end":   {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: pos == statefulSteps-1}},
			}}
		if !proto.Equal(got, want) {
			t.Fatalf("held step %d: request\n%v\nwant\n%v", n, got, want)
		}
	}
	sent := newStepper(nil, statefulSent, false, 0)
	sent.h[3] = 1.5
	sent.n = 1
	b, err := sent.request()
	if err != nil {
		t.Fatal(err)
	}
	got := &kpb.ModelInferRequest{}
	if err := proto.Unmarshal(b, got); err != nil {
		t.Fatal(err)
	}
	if len(got.GetParameters()) != 0 || len(got.GetInputs()) != 2 || got.GetInputs()[1].GetName() != "h_in" ||
		got.GetInputs()[1].GetContents().GetFp32Contents()[3] != 1.5 {
		t.Fatalf("sent step: request %v, want x and h_in (h_in[3] 1.5), no parameters", got)
	}
}
