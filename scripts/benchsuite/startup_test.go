package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// TestStartupModels makes the six startup models from stand-ins for the
// bench models (small adders with a batch dimension), checks the config
// and the batch edits, and creates their sessions both ways.
func TestStartupModels(t *testing.T) {
	if err := ort.Init(""); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	dir := t.TempDir()
	for _, name := range []string{"resnet50", "small_cnn", addOne} {
		g := om.NewGraph(name)
		x := g.Input("input", om.Float32, -1, 3)
		one := g.Constant(om.Float32Tensor("one", []int64{1, 1}, []float32{1}))
		g.Output(g.NamedNode("Add", "output", []om.Value{x, one}), "output", om.Float32, -1, 3)
		m, err := g.Model(13)
		if err != nil {
			t.Fatal(err)
		}
		if err := om.WriteFile(filepath.Join(dir, name, "1", "model.onnx"), m); err != nil {
			t.Fatal(err)
		}
	}
	cfg, files, err := prepareStartupModels(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("%d files", len(files))
	}
	var c struct {
		List []struct {
			Config struct{ Name, BasePath string } `json:"config"`
		} `json:"model_config_list"`
	}
	data, err := os.ReadFile(cfg)
	if err != nil || json.Unmarshal(data, &c) != nil || len(c.List) != 6 {
		t.Fatalf("config %s: %v", data, err)
	}
	m, err := om.Load(filepath.Join(dir, "startup", "small_cnn_b8", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if d := m.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()[0].GetDimValue(); d != 8 {
		t.Errorf("small_cnn_b8 batch %d", d)
	}
	for _, parallel := range []int{1, 2, 6} {
		if d, err := engineSessions(files, parallel); err != nil || d <= 0 {
			t.Errorf("parallel %v: %v %v", parallel, d, err)
		}
	}
	if _, _, err := prepareStartupModels(t.TempDir()); err == nil {
		t.Error("no bench models: no error")
	}
}
