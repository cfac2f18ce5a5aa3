package main

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// TestParseBatchSizes: the sum and count of one model's batch-size
// histogram, other models' and other families' lines left alone.
func TestParseHistogram(t *testing.T) {
	text := `# HELP ovms_dynamic_batch_size ovms: rows of each batch dynamic batching sent to the device.
# TYPE ovms_dynamic_batch_size histogram
ovms_dynamic_batch_size_bucket{name="resnet50_batched",version="1",le="1"} 258
ovms_dynamic_batch_size_sum{name="resnet50_batched",version="1"} 395
ovms_dynamic_batch_size_count{name="resnet50_batched",version="1"} 313
ovms_dynamic_batch_size_sum{name="resnet50_batched_x",version="1"} 1000
ovms_dynamic_batch_size_count{name="resnet50_batched_x",version="1"} 7
ovms_dynamic_batch_size_sum{name="resnet50_batched",version="2"} 5
ovms_dynamic_batch_size_count{name="resnet50_batched",version="2"} 1
ovms_requests_success{api="KServe",interface="gRPC",method="ModelInfer",name="resnet50_batched",version="1"} 4000
`
	sum, count, err := parseHistogram(bufio.NewScanner(strings.NewReader(text)), "ovms_dynamic_batch_size", gpuBatched)
	if err != nil || sum != 400 || count != 314 {
		t.Errorf("sum %v count %v err %v, want 400 (both versions), 314", sum, count, err)
	}
	sum, count, err = parseHistogram(bufio.NewScanner(strings.NewReader("# no batch yet\n")), "ovms_dynamic_batch_size", gpuBatched)
	if err != nil || sum != 0 || count != 0 {
		t.Errorf("empty: sum %v count %v err %v", sum, count, err)
	}
	if _, _, err := parseHistogram(bufio.NewScanner(strings.NewReader(`ovms_dynamic_batch_size_sum{name="resnet50_batched"} x`+"\n")), "ovms_dynamic_batch_size", gpuBatched); err == nil {
		t.Error("a malformed value was accepted")
	}
}

// TestGPUConfig: both models on the device, the batched one with a
// dynamic first dimension and dynamic batching.
func TestGPUConfig(t *testing.T) {
	dir := t.TempDir()
	path, err := gpuConfig(dir, "models", "CUDA")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		List []struct {
			Config map[string]any `json:"config"`
		} `json:"model_config_list"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.List) != 2 {
		t.Fatalf("%d models: %s", len(cfg.List), data)
	}
	abs, _ := filepath.Abs(filepath.Join("models", gpuModel))
	want := []map[string]any{
		{"name": gpuPlain, "base_path": abs, "target_device": "CUDA"},
		{"name": gpuBatched, "base_path": abs, "target_device": "CUDA",
			"shape":            map[string]any{gpuInput: "(-1,3,224,224)"},
			"dynamic_batching": map[string]any{"max_batch_size": float64(gpuMaxBatch), "max_queue_delay_microseconds": float64(gpuQueueDelay)}},
	}
	for i, w := range want {
		if got := cfg.List[i].Config; !reflect.DeepEqual(got, w) {
			t.Errorf("model %d: %v, want %v", i, got, w)
		}
	}
}

// TestEngineBatch: a model with a dynamic first dimension gets inputs of
// the batch asked for, and runs them.
func TestEngineBatch(t *testing.T) {
	if err := ort.Init(""); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	g := om.NewGraph("add")
	x := g.Input("b", om.Float32, -1, 10)
	one := g.Constant(om.Float32Tensor("one", []int64{1, 1}, []float32{1}))
	g.Output(g.NamedNode("Add", "a", []om.Value{x, one}), "a", om.Float32, -1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	data, err := om.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngineFrom("add", data, ort.SessionOptions{IntraOpThreads: 1}, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if got := e.inputs[0].Shape(); !slices.Equal(got, []int64{5, 10}) {
		t.Errorf("input shape %v, want [5 10]", got)
	}
	d, err := e.doer(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.(*engineDoer).Close()
	if err := d.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestMixedThroughput: batches of the two sizes around a fractional mean,
// mixed to give it; a whole mean is that size's own throughput.
func TestMixedThroughput(t *testing.T) {
	for _, c := range []struct{ mean, lo, hi, want float64 }{
		{1, 44, 0, 44},   // batches of 1 only
		{16, 10, 0, 160}, // batches of 16 only
		{1.5, 40, 30, 1.5 / (0.5/40 + 0.5/30)},
		{1.87, 44, 23, 1.87 / (0.13/44 + 0.87/23)},
		{2.25, 20, 16, 2.25 / (0.75/20 + 0.25/16)},
		{1.5, 0, 30, 0}, // a rate missing
		{1.5, 40, 0, 0},
	} {
		if got := mixedThroughput(c.mean, c.lo, c.hi); math.Abs(got-c.want) > 1e-9*math.Max(1, c.want) {
			t.Errorf("mixedThroughput(%v, %v, %v) = %v, want %v", c.mean, c.lo, c.hi, got, c.want)
		}
	}
	// Time linear in the batch size (a fixed cost plus a cost an image):
	// the mix is exact.
	runs := func(b float64) float64 { return 1 / (0.002 + 0.001*b) }
	mean := 6.4
	if got, want := mixedThroughput(mean, runs(6), runs(7)), mean*runs(mean); math.Abs(got-want) > 1e-9*want {
		t.Errorf("linear time: %v, want %v", got, want)
	}
}

// TestSelectGroups: the default run leaves the opt-in gpu group out; -only
// names it, or any default group; an unknown name is refused.
func TestSelectGroups(t *testing.T) {
	all, err := selectGroups("")
	if err != nil || !slices.Equal(all, groups) || slices.Contains(all, "gpu") {
		t.Errorf(`selectGroups("") = %v, %v`, all, err)
	}
	if got, err := selectGroups("gpu"); err != nil || !slices.Equal(got, []string{"gpu"}) {
		t.Errorf(`selectGroups("gpu") = %v, %v`, got, err)
	}
	if got, err := selectGroups("overhead,gpu"); err != nil || !slices.Equal(got, []string{"overhead", "gpu"}) {
		t.Errorf(`selectGroups("overhead,gpu") = %v, %v`, got, err)
	}
	for _, bad := range []string{"gpux", "overhead,", "GPU"} {
		if got, err := selectGroups(bad); err == nil {
			t.Errorf("selectGroups(%q) = %v, want an error", bad, got)
		}
	}
}
