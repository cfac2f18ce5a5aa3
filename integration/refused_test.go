package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// TestRefusedLargeRequestsHoldNoMemory: ovms keeps a large request's tensor
// bytes in the buffers they were received in; a request refused for its key
// must cost nothing of the kind (ovms checks the key on the call's headers,
// before the message is read). 300 refused 1 MiB requests of each API
// (600 MiB) may not grow the server's memory by more than a fraction of
// that, and a request with the key is still served.
func TestRefusedLargeRequestsHoldNoMemory(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	writeFile(t, keys, []byte("the-key\n"))
	s := startServer(t, "dummy_dynamic", "--api_key_file", keys, "--grpc_channel_arguments", "grpc.max_receive_message_length=2097152")
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
	// A message over the receive limit is refused for its key, not its
	// size: the key is checked before the message is read.
	over := &kpb.ModelInferRequest{ModelName: "dummy_dynamic", RawInputContents: [][]byte{make([]byte, 4<<20)}}
	if _, err := kc.ModelInfer(ctx(t), over); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a 4 MiB ModelInfer without a key, over the 2 MiB limit: %v, want Unauthenticated", err)
	}
	if _, err := kc.ModelInfer(keyCall(t, "the-key"), over); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 4 MiB ModelInfer with the key, over the 2 MiB limit: %v, want ResourceExhausted", err)
	}
	holdsNoMemory(t, s, "600 refused 1 MiB requests", func() { send(20) }, func() { send(300) })
	resp, err := kc.ModelInfer(keyCall(t, "the-key"), kreq)
	if err != nil || len(resp.GetRawOutputContents()) != 1 || len(resp.GetRawOutputContents()[0]) != 4*n {
		t.Fatalf("ModelInfer with the key: %v", err)
	}
	presp, err := pc.Predict(keyCall(t, "the-key"), preq)
	if err != nil || len(presp.GetOutputs()["a"].GetTensorContent()) != 4*n {
		t.Fatalf("Predict with the key: %v", err)
	}
}

// TestUnaryCallsFailedAfterDecodeHoldNoMemory: gRPC decodes a unary call's
// message, then fails the call when the client sends a second one (into the
// same request message) before half-closing; neither message reaches a
// handler, and the buffers ovms kept for them must come back. 150 such calls
// of 2 x 1 MiB for each API (600 MiB) may not grow the server's memory by
// more than a fraction of that.
func TestUnaryCallsFailedAfterDecodeHoldNoMemory(t *testing.T) {
	s := startServer(t, "dummy_dynamic")
	const n = 1 << 18 // floats: 1 MiB
	big := make([]byte, 4*n)
	calls := []struct {
		method string
		req    proto.Message
	}{
		{"/inference.GRPCInferenceService/ModelInfer", &kpb.ModelInferRequest{ModelName: "dummy_dynamic",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, n}}},
			RawInputContents: [][]byte{big}}},
		{"/tensorflow.serving.PredictionService/Predict", &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy_dynamic"},
			Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, n), TensorContent: big}}}},
	}
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	send := func(count int) {
		t.Helper()
		for range count {
			for _, c := range calls {
				st, err := s.conn.NewStream(ctx(t), desc, c.method)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.SendMsg(c.req); err != nil {
					t.Fatal(err)
				}
				st.SendMsg(c.req)
				st.CloseSend()
				var resp emptypb.Empty
				if err := st.RecvMsg(&resp); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "cardinality violation") {
					t.Fatalf("%s sent two messages: %v, want gRPC's cardinality violation", c.method, err)
				}
			}
		}
	}
	holdsNoMemory(t, s, "300 failed calls of 2 x 1 MiB", func() { send(10) }, func() { send(150) })
}

// holdsNoMemory runs warm (the receive pool and the heap at their working
// size), then calls, and fails when ovms's RSS grew by more than 128 MiB
// over calls (what calls sends is several times that).
func holdsNoMemory(t *testing.T, s *server, calls string, warm, run func()) {
	t.Helper()
	warm()
	before := procKB(t, s.cmd.Process.Pid, "VmRSS")
	run()
	grown := procKB(t, s.cmd.Process.Pid, "VmRSS") - before
	t.Logf("ovms's RSS grew by %d KiB over %s", grown, calls)
	if grown > 128<<10 {
		t.Errorf("ovms's RSS grew by %d MiB over %s: their buffers were kept", grown>>10, calls)
	}
}
