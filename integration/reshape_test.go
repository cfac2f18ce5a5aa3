package integration

import (
	"fmt"
	"strings"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestReshapeBatchAndLayout applies OVMS's shape, batch_size and layout
// settings to generated models and checks metadata and inference.
func TestReshapeBatchAndLayout(t *testing.T) {
	// shape on a dynamic model: the dims become fixed.
	s := startServer(t, "dummy_dynamic", "--shape", "(2,10)")
	if code, body := get(t, s.url("/v2/models/dummy_dynamic")); code != 200 || !strings.Contains(body, `"inputs":[{"name":"b","datatype":"FP32","shape":[2,10]}]`) {
		t.Errorf("metadata after --shape: %d %s", code, body)
	}
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy_dynamic",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{2, 10}}}, RawInputContents: [][]byte{f32bytes(seq(20, 0)...)}})
	if err != nil || !equal(f32s(r.RawOutputContents[0]), seq(20, 1)) {
		t.Fatalf("infer [2,10]: %v", err)
	}
	_, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy_dynamic",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
	wantErr(t, err, "Invalid input batch size - Expected: 2; Actual: 1; input name: b")
	s.stop()

	// batch_size on a static model.
	s = startServer(t, "dummy", "--batch_size", "3")
	kc = kpb.NewGRPCInferenceServiceClient(s.conn)
	r, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{3, 10}}}, RawInputContents: [][]byte{f32bytes(seq(30, 0)...)}})
	if err != nil || !equal(f32s(r.RawOutputContents[0]), seq(30, 1)) {
		t.Fatalf("infer [3,10] with batch_size 3: %v", err)
	}
	s.stop()

	// layout NHWC:NCHW on an NCHW [1,3,4,5] model: requests come in NHWC
	// [1,4,5,3]; the model sees the transpose and returns NCHW + 1.
	s = startServer(t, "increment_1x3x4x5", "--layout", "NHWC:NCHW")
	if code, body := get(t, s.url("/v2/models/increment_1x3x4x5")); code != 200 || !strings.Contains(body, `"inputs":[{"name":"input","datatype":"FP32","shape":[1,4,5,3]}]`) {
		t.Errorf("metadata after --layout: %d %s", code, body)
	}
	nhwc := make([]float32, 60)
	for h := 0; h < 4; h++ {
		for w := 0; w < 5; w++ {
			for c := 0; c < 3; c++ {
				nhwc[(h*5+w)*3+c] = float32(c*100 + h*10 + w)
			}
		}
	}
	kc = kpb.NewGRPCInferenceServiceClient(s.conn)
	r, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "increment_1x3x4x5",
		Inputs: []*inT{{Name: "input", Datatype: "FP32", Shape: []int64{1, 4, 5, 3}}}, RawInputContents: [][]byte{f32bytes(nhwc...)}})
	if err != nil {
		t.Fatalf("infer NHWC: %v", err)
	}
	got := f32s(r.RawOutputContents[0])
	for c := 0; c < 3; c++ {
		for h := 0; h < 4; h++ {
			for w := 0; w < 5; w++ {
				if v, want := got[(c*4+h)*5+w], float32(c*100+h*10+w+1); v != want {
					t.Fatalf("output[c=%d,h=%d,w=%d] = %v, want %v", c, h, w, v, want)
				}
			}
		}
	}
	s.stop()

	// A shape the model cannot take: it keeps its own, and the log says why.
	s = startServer(t, "add_two_inputs", "--shape", `{"input1": "(1,5)"}`)
	if code, body := get(t, s.url("/v2/models/add_two_inputs")); code != 200 || !strings.Contains(body, `{"name":"input1","datatype":"FP32","shape":[1,10]}`) {
		t.Errorf("metadata after a failed reshape: %d %s", code, body)
	}
	if !strings.Contains(s.log(), "Model could not be reshaped with requested shape") {
		t.Errorf("no reshape warning in the log:\n%s", s.log())
	}
	s.stop()

	// A malformed shape fails the model in single-model mode, as in OVMS.
	code, _, stderr := runOVMS(t, "--model_name", "dummy", "--model_path", modelsDir+"/dummy", "--shape", "(1,a)", "--rest_port", "0", "--port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "The provided shape is in wrong format") {
		t.Errorf("a malformed shape: exit %d %s", code, stderr)
	}
}

// TestAutoShapeAndBatch: with batch_size or shape "auto", a request of
// another shape reloads the model with it (OVMS's behaviour) and succeeds.
func TestAutoShapeAndBatch(t *testing.T) {
	for _, flag := range []string{"--batch_size", "--shape"} {
		t.Run(flag, func(t *testing.T) {
			s := startServer(t, "dummy", flag, "auto")
			kc := kpb.NewGRPCInferenceServiceClient(s.conn)
			for _, rows := range []int{1, 3, 2, 3} {
				r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
					Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{int64(rows), 10}}}, RawInputContents: [][]byte{f32bytes(seq(10*rows, 0)...)}})
				if err != nil || !equal(f32s(r.RawOutputContents[0]), seq(10*rows, 1)) {
					t.Fatalf("%d rows: %v", rows, err)
				}
			}
			if flag == "--shape" {
				// Another second dimension is a new shape too.
				_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
					Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 4}}}, RawInputContents: [][]byte{f32bytes(seq(4, 0)...)}})
				if err != nil {
					t.Fatalf("[1,4] with shape auto: %v", err)
				}
			}
			if n := strings.Count(s.log(), "reloading the version for a request's shape"); n < 3 {
				t.Errorf("%d reloads logged, want at least 3", n)
			}
			eventually(t, "one version serving", func() (bool, string) {
				code, body := get(t, s.url("/v2/models/dummy/ready"))
				return code == 200, body
			})
			s.alive()
		})
	}
}
