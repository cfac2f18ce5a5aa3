package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ovmsgo/ovms/cli/bench"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestEngineEchoRunsPerEmptyRequest checks that the engine echo runs the
// engine once for each request of the empty model and for no other.
func TestEngineEchoRunsPerEmptyRequest(t *testing.T) {
	var runs atomic.Int64
	e := &engineEcho{do: bench.DoerFunc(func(context.Context) error { runs.Add(1); return nil })}
	for range 3 {
		resp, err := e.ModelInfer(context.Background(), &kpb.ModelInferRequest{ModelName: "empty",
			Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{0}}}})
		if err != nil || resp.Outputs[0].Name != "y" {
			t.Fatalf("%v %v", resp, err)
		}
	}
	if _, err := e.ModelInfer(context.Background(), &kpb.ModelInferRequest{ModelName: "dummy"}); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 3 {
		t.Errorf("the engine ran %d times for 3 empty requests and one other, want 3", runs.Load())
	}
}

// TestEngineEchoRun measures the engine echo in its own process on a
// small model, and reports a model it cannot load as the child's failure.
func TestEngineEchoRun(t *testing.T) {
	if err := ort.Init(""); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	dir := t.TempDir()
	writeAdder(t, dir, "adder")
	s := newSuite(context.Background(), options{modelsDir: dir, quick: true}, &strings.Builder{})
	got := s.engineEchoRun("adder")
	if p := got.problem(); p != "" {
		t.Fatal(p)
	}
	if got.Level.Count < 10 || got.Level.P50 <= 0 {
		t.Errorf("level %+v", got.Level)
	}
	bad := s.engineEchoRun("missing")
	if bad.Err == "" || !strings.Contains(bad.Err, "exited") {
		t.Errorf("a model that cannot load: %q", bad.Err)
	}
	if c := engineEchoCause(got, &measurement{Level: bench.Level{P50: 2 * got.Level.P50}}, us(got.Level.P50)/2); !strings.Contains(c, "2.00x the limit, ovms 2.00x that") {
		t.Errorf("cause %q", c)
	}
}
