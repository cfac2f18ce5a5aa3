package modelinfo_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelinfo"
)

// model writes x [-1,3] FP32 and a weight initializer (not an input) -> y.
func model(t *testing.T) (dir string, bytes []byte) {
	g := onnxmodel.NewGraph("m")
	x := g.Input("x", onnxmodel.Float32, -1, 3)
	w := g.Constant(onnxmodel.Float32Tensor("w", []int64{1, 3}, []float32{1, 2, 3}))
	g.Output(g.NamedNode("Mul", "y", []onnxmodel.Value{x, w}), "y", onnxmodel.Float32, -1, 3)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	if bytes, err = onnxmodel.Marshal(m); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, bytes
}

func TestRead(t *testing.T) {
	dir, bytes := model(t)
	want := &device.ModelInfo{
		Inputs:  []device.TensorInfo{{Name: "x", DType: device.Float32, Shape: []int64{-1, 3}}},
		Outputs: []device.TensorInfo{{Name: "y", DType: device.Float32, Shape: []int64{-1, 3}}},
	}
	for name, req := range map[string]*device.LoadRequest{"folder": {Path: dir}, "bytes": {ModelBytes: bytes, Path: t.TempDir()},
		"loader files": {ModelFiles: []device.ModelFile{{Name: "model.onnx", Data: bytes}}, Path: t.TempDir()}} {
		got, err := modelinfo.Read(req)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v", name, got, err)
		}
	}
	// OVMS's shape setting applies, as in the ONNX Runtime plugins.
	got, err := modelinfo.Read(&device.LoadRequest{Path: dir, Shapes: map[string][]int64{"x": {4, 3}}})
	if err != nil || !reflect.DeepEqual(got.Inputs[0].Shape, []int64{4, 3}) {
		t.Errorf("reshaped: %+v %v", got, err)
	}
	if _, err := modelinfo.Read(&device.LoadRequest{Path: dir, Shapes: map[string][]int64{"nope": {4, 3}}}); err == nil {
		t.Error("a shape for an input the model does not have was applied")
	}
	if _, err := modelinfo.Read(&device.LoadRequest{Path: t.TempDir()}); err == nil {
		t.Error("a folder without a model was read")
	}
	if _, err := modelinfo.ONNX([]byte("not a model")); err == nil {
		t.Error("garbage parsed")
	}
}
