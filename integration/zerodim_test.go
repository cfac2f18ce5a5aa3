package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestZeroDimensionNeverReachesTheEngine sends [0,512] to vad_lstm, a
// silero-VAD-shaped model whose ONNX Runtime LSTM kernel aborts the process
// on an empty batch, beside dummy in the same CPU plugin. The request is
// refused with OVMS's message (gRPC and REST), the plugin process stays
// the same and dummy keeps answering; a model without such operators takes
// the empty batch, as in OVMS.
func TestZeroDimensionNeverReachesTheEngine(t *testing.T) {
	dir := t.TempDir()
	repoWithVersions(t, dir, "vad_lstm", "vad", 1)
	repoWithVersions(t, dir, "dummy", "dummy", 1)
	repoWithVersions(t, dir, "dummy_dynamic", "dynamic", 1)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "vad", "base_path": "vad"}}, {"config": {"name": "dummy", "base_path": "dummy"}},
		{"config": {"name": "dynamic", "base_path": "dynamic"}}]}`)
	s := startArgs(t, "--config_path", cfg)
	plugin := pluginPid(t, s)
	client := kpb.NewGRPCInferenceServiceClient(s.conn)
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A real request works (the model runs).
	if _, err := client.ModelInfer(c, &kpb.ModelInferRequest{ModelName: "vad",
		Inputs: []*inT{{Name: "input", Datatype: "FP32", Shape: []int64{2, 512}}}, RawInputContents: [][]byte{make([]byte, 2*512*4)}}); err != nil {
		t.Fatalf("[2,512]: %v", err)
	}
	const want = "Invalid input shape - Negative or zero dimension size is not acceptable: (0,512); input name: input"
	_, err := client.ModelInfer(c, &kpb.ModelInferRequest{ModelName: "vad",
		Inputs: []*inT{{Name: "input", Datatype: "FP32", Shape: []int64{0, 512}}}, RawInputContents: [][]byte{{}}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != want {
		t.Errorf("gRPC [0,512]: %v, want InvalidArgument %q", err, want)
	}
	code, body := post(t, s.url("/v2/models/vad/infer"), `{"inputs": [{"name": "input", "shape": [0, 512], "datatype": "FP32", "data": []}]}`)
	if code != 400 || !strings.Contains(body, want) {
		t.Errorf("REST [0,512]: %d %s", code, body)
	}
	code, body = post(t, s.url("/v1/models/vad:predict"), `{"inputs": {"input": [[]]}}`)
	if code != 400 {
		t.Errorf("TFS REST [[]]: %d %s", code, body)
	}
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Errorf("dummy after the zero-size requests: %v", err)
	}
	// A model whose operators take empty tensors gets them, as in OVMS.
	r, err := client.ModelInfer(c, &kpb.ModelInferRequest{ModelName: "dynamic",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{0, 10}}}, RawInputContents: [][]byte{{}}})
	if err != nil || len(r.Outputs) != 1 || len(r.Outputs[0].Shape) != 2 || r.Outputs[0].Shape[0] != 0 || len(r.RawOutputContents[0]) != 0 {
		t.Errorf("[0,10] to an Add model: %v %v", r, err)
	}
	if now := pluginPid(t, s); now != plugin {
		t.Errorf("the CPU plugin was restarted (pid %d, then %d):\n%s", plugin, now, s.log())
	}
	if strings.Contains(s.log(), "device plugin process ended") {
		t.Errorf("a plugin died:\n%s", s.log())
	}

	s.stop()

	// With shape auto, a negative or zero dimension does not make the
	// model reload (it is refused: a negative one as such, [0,10] as a
	// batch other than the model's 1).
	auto := startServer(t, "dummy", "--shape", "auto")
	for shape, want := range map[[2]int64]string{
		{0, 10}:  "Invalid input batch size - Expected: 1; Actual: 0; input name: b",
		{-1, 10}: "Invalid input shape - Negative or zero dimension size is not acceptable: (-1,10); input name: b",
	} {
		_, err := kpb.NewGRPCInferenceServiceClient(auto.conn).ModelInfer(c, &kpb.ModelInferRequest{ModelName: "dummy",
			Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: shape[:]}}, RawInputContents: [][]byte{{}}})
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != want {
			t.Errorf("shape auto, %v: %v, want %q", shape, err, want)
		}
	}
	if strings.Contains(auto.log(), "reloading the version for a request's shape") {
		t.Errorf("a negative or zero dimension made a shape-auto model reload:\n%s", auto.log())
	}
}
