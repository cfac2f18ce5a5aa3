package grpcapi_test

import (
	"context"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// modelInferAllocs is the allocations of one KServe ModelInfer through an
// in-memory gRPC connection to a mock plugin (client, server and plugin
// shims together).
func modelInferAllocs(t *testing.T, ctx context.Context) float64 {
	t.Helper()
	conn, _ := serve(t, true)
	c := kpb.NewGRPCInferenceServiceClient(conn)
	req := &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		RawInputContents: [][]byte{floats(10)}}
	infer := func() {
		if _, err := c.ModelInfer(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 { // warm the pools
		infer()
	}
	return testing.AllocsPerRun(500, infer)
}

// TestModelInferAllocs reports the allocations of a request on the whole
// in-process path (compare across commits: tracing off must add none).
func TestModelInferAllocs(t *testing.T) {
	t.Logf("ModelInfer: %.1f allocations per request", modelInferAllocs(t, context.Background()))
}
