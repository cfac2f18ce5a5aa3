package irtoonnx

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// opsNet is a net with one op whose inputs build makes (Parameters and
// Consts) and whose single output is out, named "y".
func opsNet(op, ver string, attrs map[string]string, out irtest.Port, build func(n *irtest.Net) []irtest.Out) *irtest.Net {
	n := irtest.New(op)
	ins := build(n)
	out.Names = "y"
	y := n.Op(op, ver, attrs, ins, out)
	n.Result(y[0], "y/sink")
	return n
}

// opsUnary is a net computing op(x) for x of type t and IR shape shape.
func opsUnary(op, ver string, attrs map[string]string, t irmodel.ElementType, shape string) *irtest.Net {
	return opsNet(op, ver, attrs, irtest.Port{Type: t, Shape: shape}, func(n *irtest.Net) []irtest.Out {
		return []irtest.Out{n.Parameter("x", t, shape)}
	})
}

// opsMap applies f to every value, in float64.
func opsMap(xs []float32, f func(float64) float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(f(float64(x)))
	}
	return out
}

// opsXs are test inputs with halves, negatives and a zero ([3,4]).
var opsXs = []float32{-3.5, -2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 3.7, -0.2, 4, 7.25}

func TestUnaryFloatOps(t *testing.T) {
	pos := opsMap(opsXs, math.Abs)
	cases := []struct {
		op, ver string
		attrs   map[string]string
		xs      []float32
		f       func(float64) float64
	}{
		{"Abs", "opset1", nil, opsXs, math.Abs},
		{"Negative", "opset1", nil, opsXs, func(x float64) float64 { return -x }},
		{"Sign", "opset1", nil, opsXs, func(x float64) float64 {
			if x == 0 {
				return 0
			}
			return math.Copysign(1, x)
		}},
		{"Floor", "opset1", nil, opsXs, math.Floor},
		{"Ceiling", "opset1", nil, opsXs, math.Ceil},
		{"Round", "opset5", nil, opsXs, math.RoundToEven},
		{"Round", "opset5", map[string]string{"mode": "half_to_even"}, opsXs, math.RoundToEven},
		{"Round", "opset5", map[string]string{"mode": "half_away_from_zero"}, opsXs, math.Round},
		{"Exp", "opset1", nil, opsXs, math.Exp},
		{"Log", "opset1", nil, pos, math.Log},
		{"Sqrt", "opset1", nil, pos, math.Sqrt},
		{"Erf", "opset1", nil, opsXs, math.Erf},
		{"Tanh", "opset1", nil, opsXs, math.Tanh},
		{"Sigmoid", "opset1", nil, opsXs, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{"Relu", "opset1", nil, opsXs, func(x float64) float64 { return max(x, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.op+tc.attrs["mode"], func(t *testing.T) {
			out := run(t, opsUnary(tc.op, tc.ver, tc.attrs, irmodel.F32, "?,4"), f32("x", []int64{3, 4}, tc.xs...))["y"]
			if !slices.Equal(out.shape, []int64{3, 4}) {
				t.Fatalf("shape %v", out.shape)
			}
			near(t, tc.op, out.F32(), opsMap(tc.xs, tc.f), 1e-6)
		})
	}
}

func TestRoundSpecExample(t *testing.T) {
	in := []float32{-4.5, -1.9, -1.5, 0.5, 0.9, 1.5, 2.3, 2.5}
	for mode, want := range map[string][]float32{
		"half_to_even":        {-4, -2, -2, 0, 1, 2, 2, 2},
		"half_away_from_zero": {-5, -2, -2, 1, 1, 2, 2, 3},
	} {
		out := run(t, opsUnary("Round", "opset5", map[string]string{"mode": mode}, irmodel.F32, "8"), f32("x", []int64{8}, in...))["y"]
		if got := out.F32(); !slices.Equal(got, want) {
			t.Errorf("Round %s: %v, want %v", mode, got, want)
		}
	}
}

func TestUnaryIntegerOps(t *testing.T) {
	in := []int32{-7, -1, 0, 3, 9, -2}
	cases := map[string]func(int32) int32{
		"Abs":      func(x int32) int32 { return max(x, -x) },
		"Negative": func(x int32) int32 { return -x },
		"Sign": func(x int32) int32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		},
		"Relu":    func(x int32) int32 { return max(x, 0) },
		"Floor":   func(x int32) int32 { return x },
		"Ceiling": func(x int32) int32 { return x },
		"Round":   func(x int32) int32 { return x },
	}
	for op, f := range cases {
		ver := "opset1"
		if op == "Round" {
			ver = "opset5"
		}
		out := run(t, opsUnary(op, ver, nil, irmodel.I32, "2,3"), i32("x", []int64{2, 3}, in...))["y"]
		want := make([]int32, len(in))
		for i, x := range in {
			want[i] = f(x)
		}
		if got := out.I32(); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", op, got, want)
		}
	}
}

// opsTranslateErr translates n and returns the error text ("" if none).
func opsTranslateErr(t *testing.T, n *irtest.Net) string {
	t.Helper()
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Translate(m, Options{}); err != nil {
		return err.Error()
	}
	return ""
}

func TestUnaryUnsupported(t *testing.T) {
	if e := opsTranslateErr(t, opsUnary("Round", "opset5", map[string]string{"mode": "stochastic"}, irmodel.F32, "2")); !strings.Contains(e, `mode="stochastic"`) {
		t.Errorf("Round mode: %q", e)
	}
	if e := opsTranslateErr(t, opsUnary("Exp", "opset1", nil, irmodel.I32, "2")); !strings.Contains(e, "input type i32") {
		t.Errorf("Exp i32: %q", e)
	}
}
