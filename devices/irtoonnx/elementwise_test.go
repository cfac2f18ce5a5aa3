package irtoonnx

import (
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// binaryNet is a net computing op(a, b) for a [2,3] and b [3] (broadcast).
func binaryNet(op string, in, out irmodel.ElementType, attrs map[string]string) *irtest.Net {
	n := irtest.New(op)
	a := n.Parameter("a", in, "2,3")
	b := n.Parameter("b", in, "3")
	y := n.Op(op, "opset1", attrs, []irtest.Out{a, b}, irtest.Port{Type: out, Shape: "2,3", Names: "y"})
	n.Result(y[0], "y/sink")
	return n
}

func TestArithmeticBroadcasts(t *testing.T) {
	a := []float32{1, -2, 3, 4.5, 5, -6}
	b := []float32{2, 4, -8}
	cases := map[string]func(x, y float32) float32{
		"Add": func(x, y float32) float32 { return x + y }, "Subtract": func(x, y float32) float32 { return x - y },
		"Multiply": func(x, y float32) float32 { return x * y }, "Divide": func(x, y float32) float32 { return x / y },
		"Maximum": func(x, y float32) float32 { return max(x, y) }, "Minimum": func(x, y float32) float32 { return min(x, y) },
		"SquaredDifference": func(x, y float32) float32 { return (x - y) * (x - y) },
	}
	for op, f := range cases {
		t.Run(op, func(t *testing.T) {
			out := run(t, binaryNet(op, irmodel.F32, irmodel.F32, nil), f32("a", []int64{2, 3}, a...), f32("b", []int64{3}, b...))["y"]
			want := make([]float32, 6)
			for i := range want {
				want[i] = f(a[i], b[i%3])
			}
			if !slices.Equal(out.shape, []int64{2, 3}) {
				t.Fatalf("shape %v", out.shape)
			}
			near(t, op, out.F32(), want, 1e-6)
		})
	}
}

func TestIntegerDivisionFloorsByDefault(t *testing.T) {
	a := []int32{7, -7, 7, -7, 0, 9}
	b := []int32{2, 2, -2}
	for _, tc := range []struct {
		attrs map[string]string
		want  []int32
	}{
		{nil, []int32{3, -4, -4, -4, 0, -5}},
		{map[string]string{"m_pythondiv": "false"}, []int32{3, -3, -3, -3, 0, -4}},
	} {
		out := run(t, binaryNet("Divide", irmodel.I32, irmodel.I32, tc.attrs), i32("a", []int64{2, 3}, a...), i32("b", []int64{3}, b...))["y"]
		if got := out.I32(); !slices.Equal(got, tc.want) {
			t.Errorf("Divide %v: %v, want %v", tc.attrs, got, tc.want)
		}
	}
}

func TestFloorModAndModSigns(t *testing.T) {
	a := []float32{7, -7, 7, -7, 5.5, -5.5}
	b := []float32{3, 3, -3}
	floorMod := []float32{1, 2, -2, 2, 2.5, -2.5}
	mod := []float32{1, -1, 1, -1, 2.5, -2.5}
	out := run(t, binaryNet("FloorMod", irmodel.F32, irmodel.F32, nil), f32("a", []int64{2, 3}, a...), f32("b", []int64{3}, b...))["y"]
	near(t, "FloorMod", out.F32(), floorMod, 1e-6)
	out = run(t, binaryNet("Mod", irmodel.F32, irmodel.F32, nil), f32("a", []int64{2, 3}, a...), f32("b", []int64{3}, b...))["y"]
	near(t, "Mod", out.F32(), mod, 1e-6)
}

func TestUntranslatedOpsAreListedTogether(t *testing.T) {
	n := irtest.New("bad")
	a := n.Parameter("a", irmodel.F32, "2")
	x := n.Op("Frobnicate", "opset42", nil, []irtest.Out{a}, irtest.Port{Type: irmodel.F32, Shape: "2"})
	y := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "pdpd"}, []irtest.Out{x[0], a}, irtest.Port{Type: irmodel.F32, Shape: "2"})
	z := n.Op("Twiddle", "opset1", nil, []irtest.Out{y[0]}, irtest.Port{Type: irmodel.F32, Shape: "2"})
	n.Result(z[0], "out")
	xml, bin := n.Bytes()
	m, err := irmodel.Parse(xml, bin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Translate(m, Options{})
	want := "IR version 11 model has 2 operation(s) ovms cannot translate to ONNX: Frobnicate-opset42 (layer 'frobnicate_1'); Twiddle-opset1 (layer 'twiddle_3')"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// With the unknown ops gone, the attribute value is reported.
	n = irtest.New("bad")
	a = n.Parameter("a", irmodel.F32, "2")
	y = n.Op("Add", "opset1", map[string]string{"auto_broadcast": "pdpd"}, []irtest.Out{a, a}, irtest.Port{Type: irmodel.F32, Shape: "2"})
	n.Result(y[0], "out")
	xml, bin = n.Bytes()
	m, _ = irmodel.Parse(xml, bin)
	_, err = Translate(m, Options{})
	want = `IR version 11 model has 1 operation(s) ovms cannot translate to ONNX: Add-opset1 (layer 'add_1'): auto_broadcast="pdpd"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestComparisons: OpenVINO's comparison ops by their IR type names
// (LessEqual, GreaterEqual, NotEqual: not ONNX's spellings) give booleans.
func TestComparisons(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{2, 2, 7}
	cases := map[string]func(x, y float32) bool{
		"Equal": func(x, y float32) bool { return x == y }, "NotEqual": func(x, y float32) bool { return x != y },
		"Less": func(x, y float32) bool { return x < y }, "LessEqual": func(x, y float32) bool { return x <= y },
		"Greater": func(x, y float32) bool { return x > y }, "GreaterEqual": func(x, y float32) bool { return x >= y },
	}
	for op, f := range cases {
		out := run(t, binaryNet(op, irmodel.F32, irmodel.Boolean, nil), f32("a", []int64{2, 3}, a...), f32("b", []int64{3}, b...))["y"]
		for i, got := range out.raw {
			if want := f(a[i], b[i%3]); (got == 1) != want {
				t.Errorf("%s[%d] = %d, want %v", op, i, got, want)
			}
		}
	}
}
