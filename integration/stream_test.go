package integration

import (
	"fmt"
	"io"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestModelStreamInfer sends good and bad requests on one stream: every
// request gets its answer in order, a bad one an error_message, and the
// stream carries on.
func TestModelStreamInfer(t *testing.T) {
	s := startServer(t, "dummy")
	st, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelStreamInfer(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	go func() {
		for i := 0; i < n; i++ {
			req := &kpb.ModelInferRequest{ModelName: "dummy", Id: fmt.Sprint(i),
				Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, float32(i))...)}}
			if i%5 == 4 {
				req.Inputs[0].Shape = []int64{1, 9}
			}
			if err := st.Send(req); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
		_ = st.CloseSend()
	}()
	for i := 0; i < n; i++ {
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if r.InferResponse.GetId() != fmt.Sprint(i) {
			t.Fatalf("answer %d has id %q", i, r.InferResponse.GetId())
		}
		if i%5 == 4 {
			if want := "Invalid input shape - Expected: (1,10); Actual: (1,9); input name: b"; r.ErrorMessage != want {
				t.Fatalf("answer %d: error %q, want %q", i, r.ErrorMessage, want)
			}
			continue
		}
		if r.ErrorMessage != "" || !equal(f32s(r.InferResponse.RawOutputContents[0]), seq(10, float32(i+1))) {
			t.Fatalf("answer %d: %q %v", i, r.ErrorMessage, r.InferResponse)
		}
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("after the last answer: %v, want EOF", err)
	}
	s.alive()
}
