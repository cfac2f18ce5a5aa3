package integration

import (
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// TestRefusedLargeRequestsHoldNoMemory: gRPC decodes a unary request before
// the API key is checked, and ovms keeps a large request's tensor bytes in
// the buffers they were received in; a request refused for its key must give
// those buffers back. 300 refused 1 MiB requests of each API (600 MiB) may
// not grow the server's memory by more than a fraction of that, and a
// request with the key is still served.
func TestRefusedLargeRequestsHoldNoMemory(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	writeFile(t, keys, []byte("the-key\n"))
	s := startServer(t, "dummy_dynamic", "--api_key_file", keys)
	kc, pc := kpb.NewGRPCInferenceServiceClient(s.conn), tfspb.NewPredictionServiceClient(s.conn)
	const n = 1 << 18 // floats: 1 MiB
	big := make([]byte, 4*n)
	kreq := &kpb.ModelInferRequest{ModelName: "dummy_dynamic",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, n}}},
		RawInputContents: [][]byte{big}}
	preq := &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy_dynamic"},
		Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, n), TensorContent: big}}}
	send := func(count int) {
		t.Helper()
		for range count {
			if _, err := kc.ModelInfer(ctx(t), kreq); status.Code(err) != codes.Unauthenticated {
				t.Fatalf("ModelInfer without a key: %v", err)
			}
			if _, err := pc.Predict(ctx(t), preq); status.Code(err) != codes.Unauthenticated {
				t.Fatalf("Predict without a key: %v", err)
			}
		}
	}
	send(20) // the receive pool and the heap at their working size
	before := procKB(t, s.cmd.Process.Pid, "VmRSS")
	send(300)
	grown := procKB(t, s.cmd.Process.Pid, "VmRSS") - before
	t.Logf("ovms's RSS grew by %d KiB over 600 refused 1 MiB requests", grown)
	if grown > 128<<10 {
		t.Errorf("ovms's RSS grew by %d MiB over 600 refused 1 MiB requests: their buffers were kept", grown>>10)
	}
	resp, err := kc.ModelInfer(keyCall(t, "the-key"), kreq)
	if err != nil || len(resp.GetRawOutputContents()) != 1 || len(resp.GetRawOutputContents()[0]) != 4*n {
		t.Fatalf("ModelInfer with the key: %v", err)
	}
	presp, err := pc.Predict(keyCall(t, "the-key"), preq)
	if err != nil || len(presp.GetOutputs()["a"].GetTensorContent()) != 4*n {
		t.Fatalf("Predict with the key: %v", err)
	}
}
