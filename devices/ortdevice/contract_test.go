package ortdevice

import (
	"path/filepath"
	"testing"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device/devicetest"
)

// TestContract runs the SDK's exported contract tests against the real
// ONNX Runtime device, on OVMS's dummy model (a = b + 1).
func TestContract(t *testing.T) {
	requireORT(t)
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
	in := devicetest.Float32("b", []int64{1, 10}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	devicetest.Contract(t, Factory(Config{Name: "cpu", Devices: []string{"CPU"}}), devicetest.Model{
		Path:   dir,
		Inputs: []devicetest.Tensor{in},
		Check: func(t testing.TB, _, out []devicetest.Tensor) {
			if got := out[0].Float32s(); len(got) != 10 || got[0] != 1 || got[9] != 10 {
				t.Errorf("a = %v, want b + 1", got)
			}
		},
	})
}
