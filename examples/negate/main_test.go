package main

import (
	"path/filepath"
	"testing"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device/devicetest"
)

// dummyModel writes OVMS's dummy model (b [1,10] FP32 -> a = b + 1) into a
// version folder; the negate device reads only its inputs and outputs.
func dummyModel(t *testing.T) string {
	g := onnxmodel.NewGraph("dummy")
	b := g.Input("b", onnxmodel.Float32, 1, 10)
	one := g.Constant(onnxmodel.Float32Tensor("one", []int64{1, 1}, []float32{1}))
	g.Output(g.NamedNode("Add", "a", []onnxmodel.Value{b, one}), "a", onnxmodel.Float32, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "1")
	if err := onnxmodel.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNegateContract(t *testing.T) {
	in := devicetest.Float32("b", []int64{1, 10}, 0, 1, -2, 3.5, -4, 5, 6, 7, 8, -9)
	devicetest.Contract(t, newNegate, devicetest.Model{
		Path:   dummyModel(t),
		Inputs: []devicetest.Tensor{in},
		Check: func(t testing.TB, _, out []devicetest.Tensor) {
			for i, v := range out[0].Float32s() {
				if want := -in.Float32s()[i]; v != want || out[0].Name != "a" {
					t.Errorf("%s[%d] = %v, want %v", out[0].Name, i, v, want)
				}
			}
		},
	})
}
