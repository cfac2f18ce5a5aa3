package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// TestStreamsShareWeightsServed: through the real binaries, a model served
// with NUM_STREAMS 4 shares its MatMul weight between its streams (the
// plugin's log says how much), a second model of the same file with one
// stream uses the same copy, and both answer concurrent requests with the
// product the weight gives.
func TestStreamsShareWeightsServed(t *testing.T) {
	const k = 512 // a 1 MiB weight
	w := make([]float32, k*k)
	for i := range w {
		w[i] = float32((i*7)%23-11) / 64
	}
	g := om.NewGraph("matmul")
	x := g.Input("x", om.Float32, -1, k)
	g.Output(g.NamedNode("MatMul", "y", []om.Value{x, g.Constant(om.Float32Tensor("w", []int64{k, k}, w))}), "y", om.Float32, -1, k)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mm", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := om.WriteFile(filepath.Join(dir, "mm", "1", "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	streams := fmt.Sprintf(`{"config": {"name": "streams", "base_path": %q, "plugin_config": {"NUM_STREAMS": "4"}}}`, filepath.Join(dir, "mm"))
	writeConfig(t, cfg, `{"model_config_list": [`+streams+`]}`)
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "0")
	// The one-stream model comes once the four streams serve: it finds
	// their weights shared and uses them.
	writeConfig(t, cfg, `{"model_config_list": [`+streams+fmt.Sprintf(`, {"config": {"name": "one", "base_path": %q}}]}`, filepath.Join(dir, "mm")))
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 && code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	states := versionStates(t, s)
	for _, name := range []string{"streams", "one"} {
		if states[name] != "1:AVAILABLE" {
			t.Fatalf("model %s: %q, want 1:AVAILABLE", name, states[name])
		}
	}
	shared := regexp.MustCompile(`model compiled.*shared_weights_mb=1\.0 streams=(\d)`).FindAllStringSubmatch(s.log(), -1)
	if len(shared) != 2 {
		t.Errorf("%d model compiled lines share 1.0 MiB of weights, want 2 (the four streams, and the one-stream model of the same file):\n%s", len(shared), s.log())
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for c := range 8 {
		wg.Go(func() {
			client := kpb.NewGRPCInferenceServiceClient(s.conn)
			model := []string{"streams", "one"}[c%2]
			for i := range 10 {
				in := make([]float32, k)
				for j := range in {
					in[j] = float32((j+c*31+i*7)%17-8) / 16
				}
				resp, err := client.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: model,
					Inputs: []*inT{{Name: "x", Datatype: "FP32", Shape: []int64{1, k}}}, RawInputContents: [][]byte{f32bytes(in...)}})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", model, err)
					return
				}
				got := f32s(resp.RawOutputContents[0])
				for col := range k {
					var want float64
					for r := range k {
						want += float64(in[r]) * float64(w[r*k+col])
					}
					if math.Abs(float64(got[col])-want) > 1e-3 {
						errs <- fmt.Errorf("%s: y[%d] = %v, want %v", model, col, got[col], want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
