package irtoonnx

import (
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

func TestReshapeSpecialZero(t *testing.T) {
	x := mvIota(24)
	for _, tc := range []struct {
		name, inShape string
		target        []int64
		special       string
		want          []int64
	}{
		{"zero copies", "?,3,4", []int64{0, -1}, "true", []int64{2, 12}},
		{"minus one", "2,3,4", []int64{-1, 4}, "false", []int64{6, 4}},
		{"zero copies middle", "2,3,4", []int64{0, 0, 2, -1}, "true", []int64{2, 3, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := irtest.New("reshape")
			a := n.Parameter("a", irmodel.F32, tc.inShape)
			y := n.Op("Reshape", "opset1", map[string]string{"special_zero": tc.special}, []irtest.Out{a, n.I64([]int64{int64(len(tc.target))}, tc.target...)},
				irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
			n.Result(y[0], "y/sink")
			mvCheck(t, tc.name, run(t, n, f32("a", []int64{2, 3, 4}, x...))["y"], tc.want, x)
		})
	}
	// special_zero=false: a 0 is a zero-size dim.
	n := irtest.New("reshape")
	a := n.Parameter("a", irmodel.F32, "2,0")
	y := n.Op("Reshape", "opset1", map[string]string{"special_zero": "false"}, []irtest.Out{a, n.I64([]int64{3}, 0, 5, 7)},
		irtest.Port{Type: irmodel.F32, Shape: "0,5,7", Names: "y"})
	n.Result(y[0], "y/sink")
	mvCheck(t, "literal zero", run(t, n, f32("a", []int64{2, 0}))["y"], []int64{0, 5, 7}, []float32{})
	// A computed target shape (ShapeOf of another input).
	n = irtest.New("reshape")
	a = n.Parameter("a", irmodel.F32, "6")
	b := n.Parameter("b", irmodel.F32, "?,?")
	s := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i32"}, []irtest.Out{b}, irtest.Port{Type: irmodel.I32, Shape: "2"})
	y = n.Op("Reshape", "opset1", map[string]string{"special_zero": "false"}, []irtest.Out{a, s[0]}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	mvCheck(t, "computed", run(t, n, f32("a", []int64{6}, mvIota(6)...), f32("b", []int64{3, 2}, mvIota(6)...))["y"], []int64{3, 2}, mvIota(6))
}

func TestTranspose(t *testing.T) {
	x := mvIota(24)
	shape := []int64{2, 3, 4}
	for _, tc := range []struct {
		order, perm []int64
	}{
		{[]int64{2, 0, 1}, []int64{2, 0, 1}},
		{[]int64{}, []int64{2, 1, 0}}, // empty order: reverse
		{[]int64{0, -1, 1}, []int64{0, 2, 1}},
	} {
		n := irtest.New("transpose")
		a := n.Parameter("a", irmodel.F32, "?,3,4")
		y := n.Op("Transpose", "opset1", nil, []irtest.Out{a, n.I64([]int64{int64(len(tc.order))}, tc.order...)}, irtest.Port{Type: irmodel.F32, Shape: "?,?,?", Names: "y"})
		n.Result(y[0], "y/sink")
		want, wshape := mvTransposeRef(x, shape, tc.perm)
		mvCheck(t, "transpose", run(t, n, f32("a", shape, x...))["y"], wshape, want)
	}
	n := irtest.New("transpose")
	a := n.Parameter("a", irmodel.F32, "2,3")
	o := n.Parameter("o", irmodel.I64, "2")
	y := n.Op("Transpose", "opset1", nil, []irtest.Out{a, o}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	mvExpectUnsupported(t, mvTranslateErr(t, n), "order (input 1) must be a constant")
}

func TestConcatNegativeAxis(t *testing.T) {
	n := irtest.New("concat")
	a := n.Parameter("a", irmodel.F32, "?,2")
	b := n.Parameter("b", irmodel.F32, "?,3")
	y := n.Op("Concat", "opset1", map[string]string{"axis": "-1"}, []irtest.Out{a, b, n.F32([]int64{2, 1}, 100, 200)}, irtest.Port{Type: irmodel.F32, Shape: "2,6", Names: "y"})
	n.Result(y[0], "y/sink")
	out := run(t, n, f32("a", []int64{2, 2}, 1, 2, 3, 4), f32("b", []int64{2, 3}, 5, 6, 7, 8, 9, 10))["y"]
	mvCheck(t, "concat", out, []int64{2, 6}, []float32{1, 2, 5, 6, 7, 100, 3, 4, 8, 9, 10, 200})
}

func TestSplitAndVariadicSplit(t *testing.T) {
	x := mvIota(12)
	n := irtest.New("split")
	a := n.Parameter("a", irmodel.F32, "2,6")
	ys := n.Op("Split", "opset1", map[string]string{"num_splits": "3"}, []irtest.Out{a, n.I64(nil, -1)},
		irtest.Port{Type: irmodel.F32, Shape: "2,2", Names: "y0"}, irtest.Port{Type: irmodel.F32, Shape: "2,2", Names: "y1"}, irtest.Port{Type: irmodel.F32, Shape: "2,2", Names: "y2"})
	for i, y := range ys {
		n.Result(y, "sink"+itoa(i))
	}
	out := run(t, n, f32("a", []int64{2, 6}, x...))
	mvCheck(t, "y0", out["y0"], []int64{2, 2}, []float32{0, 1, 6, 7})
	mvCheck(t, "y2", out["y2"], []int64{2, 2}, []float32{4, 5, 10, 11})

	// VariadicSplit with -1, static and dynamic split dims, constant and
	// computed lengths.
	for _, tc := range []struct {
		name, shape string
		computed    bool
	}{{"static", "2,6", false}, {"dynamic", "2,?", false}, {"computed", "2,?", true}} {
		t.Run(tc.name, func(t *testing.T) {
			n := irtest.New("vsplit")
			a := n.Parameter("a", irmodel.F32, tc.shape)
			lens := n.I32([]int64{3}, 1, -1, 2)
			feeds := []feed{f32("a", []int64{2, 6}, x...)}
			if tc.computed {
				lens = n.Parameter("l", irmodel.I32, "3")
				feeds = append(feeds, i32("l", []int64{3}, 1, -1, 2))
			}
			ys := n.Op("VariadicSplit", "opset1", nil, []irtest.Out{a, n.I64(nil, 1), lens},
				irtest.Port{Type: irmodel.F32, Shape: "2,1", Names: "y0"}, irtest.Port{Type: irmodel.F32, Shape: "2,?", Names: "y1"}, irtest.Port{Type: irmodel.F32, Shape: "2,2", Names: "y2"})
			for i, y := range ys {
				n.Result(y, "sink"+itoa(i))
			}
			out := run(t, n, feeds...)
			mvCheck(t, "y0", out["y0"], []int64{2, 1}, []float32{0, 6})
			mvCheck(t, "y1", out["y1"], []int64{2, 3}, []float32{1, 2, 3, 7, 8, 9})
			mvCheck(t, "y2", out["y2"], []int64{2, 2}, []float32{4, 5, 10, 11})
		})
	}
}

func TestSqueezeUnsqueeze(t *testing.T) {
	x := mvIota(6)
	for _, tc := range []struct {
		name string
		axes []int64 // nil: no axes input
		want []int64
	}{
		{"all", nil, []int64{3, 2}},
		{"negative", []int64{-2}, []int64{1, 3, 2}},
		{"non-1 ignored", []int64{0, 1}, []int64{3, 1, 2}},
		{"empty axes", []int64{}, []int64{3, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := irtest.New("squeeze")
			a := n.Parameter("a", irmodel.F32, "1,3,1,2")
			ins := []irtest.Out{a}
			if tc.axes != nil {
				ins = append(ins, n.I64([]int64{int64(len(tc.axes))}, tc.axes...))
			}
			y := n.Op("Squeeze", "opset1", nil, ins, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
			n.Result(y[0], "y/sink")
			mvCheck(t, tc.name, run(t, n, f32("a", []int64{1, 3, 1, 2}, x...))["y"], tc.want, x)
		})
	}
	n := irtest.New("unsqueeze")
	a := n.Parameter("a", irmodel.F32, "?,3")
	y := n.Op("Unsqueeze", "opset1", nil, []irtest.Out{a, n.I32([]int64{2}, 0, -1)}, irtest.Port{Type: irmodel.F32, Shape: "1,?,3,1", Names: "y"})
	n.Result(y[0], "y/sink")
	mvCheck(t, "unsqueeze", run(t, n, f32("a", []int64{2, 3}, x...))["y"], []int64{1, 2, 3, 1}, x)
	// a scalar axis
	n = irtest.New("unsqueeze")
	a = n.Parameter("a", irmodel.F32, "2,3")
	y = n.Op("Unsqueeze", "opset1", nil, []irtest.Out{a, n.I64(nil, 1)}, irtest.Port{Type: irmodel.F32, Shape: "2,1,3", Names: "y"})
	n.Result(y[0], "y/sink")
	mvCheck(t, "unsqueeze scalar", run(t, n, f32("a", []int64{2, 3}, x...))["y"], []int64{2, 1, 3}, x)
}

func TestShapeOf(t *testing.T) {
	n := irtest.New("shapeof")
	a := n.Parameter("a", irmodel.F32, "?,3,?")
	y1 := n.Op("ShapeOf", "opset1", nil, []irtest.Out{a}, irtest.Port{Type: irmodel.I64, Shape: "3", Names: "v1"})
	y3 := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i32"}, []irtest.Out{a}, irtest.Port{Type: irmodel.I32, Shape: "3", Names: "v3"})
	y3b := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i64"}, []irtest.Out{a}, irtest.Port{Type: irmodel.I64, Shape: "3", Names: "v3b"})
	n.Result(y1[0], "s1")
	n.Result(y3[0], "s3")
	n.Result(y3b[0], "s3b")
	out := run(t, n, f32("a", []int64{2, 3, 5}, mvIota(30)...))
	mvCheckI64(t, "v1", out["v1"], []int64{3}, []int64{2, 3, 5})
	mvCheckI32(t, "v3", out["v3"], []int64{3}, []int32{2, 3, 5})
	mvCheckI64(t, "v3b", out["v3b"], []int64{3}, []int64{2, 3, 5})
}
