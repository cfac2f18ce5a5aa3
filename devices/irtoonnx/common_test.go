package irtoonnx

import (
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// TestWhereOnBytes runs the ops built on ONNX Where with i8 and boolean
// data, types ONNX Runtime's Where has no kernel for.
func TestWhereOnBytes(t *testing.T) {
	for _, typ := range []irmodel.ElementType{irmodel.I8, irmodel.Boolean} {
		n := irtest.New("select")
		cond := n.Parameter("c", irmodel.Boolean, "4")
		a := n.Parameter("a", typ, "4")
		b := n.Parameter("b", typ, "4")
		y := n.Op("Select", "opset1", nil, []irtest.Out{cond, a, b}, irtest.Port{Type: typ, Shape: "4", Names: "y"})
		n.Result(y[0], "r")
		av, bv := []byte{0xff, 1, 0, 1}, []byte{0, 0, 1, 0x80}
		if typ == irmodel.Boolean {
			av, bv = []byte{1, 1, 0, 1}, []byte{0, 0, 1, 0}
		}
		out := run(t, n, feed{"c", irmodel.Boolean, []int64{4}, []byte{1, 0, 1, 0}}, feed{"a", typ, []int64{4}, av}, feed{"b", typ, []int64{4}, bv})["y"]
		if want := []byte{av[0], bv[1], av[2], bv[3]}; !slices.Equal(out.raw, want) {
			t.Errorf("Select %s: %v, want %v", typ, out.raw, want)
		}

		// Gather-8 with computed indices: out-of-range ones give zeros.
		n = irtest.New("gather")
		d := n.Parameter("d", typ, "4")
		i := n.Parameter("i", irmodel.I64, "3")
		y = n.Op("Gather", "opset8", nil, []irtest.Out{d, i, n.I64(nil, 0)}, irtest.Port{Type: typ, Shape: "3", Names: "y"})
		n.Result(y[0], "r")
		out = run(t, n, feed{"d", typ, []int64{4}, av}, i64("i", []int64{3}, -4, 7, 3))["y"]
		if want := []byte{av[0], 0, av[3]}; !slices.Equal(out.raw, want) {
			t.Errorf("Gather-8 %s: %v, want %v", typ, out.raw, want)
		}
	}
}
