package irtoonnx

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

func TestActivationsFollowTheirFormulas(t *testing.T) {
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	softplus := func(x float64) float64 { return math.Log(math.Exp(x) + 1) }
	cases := []struct {
		name, op, ver string
		attrs         map[string]string
		f             func(float64) float64
	}{
		{"Elu", "Elu", "opset1", map[string]string{"alpha": "0.7"}, func(x float64) float64 {
			if x > 0 {
				return x
			}
			return 0.7 * (math.Exp(x) - 1)
		}},
		{"HSwish", "HSwish", "opset4", nil, func(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 }},
		{"HSigmoid", "HSigmoid", "opset5", nil, func(x float64) float64 { return min(max(x+3, 0), 6) / 6 }},
		{"Swish", "Swish", "opset4", nil, func(x float64) float64 { return x * sigmoid(x) }},
		{"Mish", "Mish", "opset4", nil, func(x float64) float64 { return x * math.Tanh(softplus(x)) }},
		{"Gelu2", "Gelu", "opset2", nil, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }},
		{"Gelu7", "Gelu", "opset7", nil, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }},
		{"Gelu7erf", "Gelu", "opset7", map[string]string{"approximation_mode": "erf"}, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }},
		{"Gelu7tanh", "Gelu", "opset7", map[string]string{"approximation_mode": "tanh"}, func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}},
		{"Gelu7TANH", "Gelu", "opset7", map[string]string{"approximation_mode": "TANH"}, func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}},
		{"SoftPlus", "SoftPlus", "opset4", nil, softplus},
		{"Clamp", "Clamp", "opset1", map[string]string{"min": "-1.5", "max": "2.25"}, func(x float64) float64 { return min(max(x, -1.5), 2.25) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, opsUnary(tc.op, tc.ver, tc.attrs, irmodel.F32, "?,4"), f32("x", []int64{3, 4}, opsXs...))["y"]
			if !slices.Equal(out.shape, []int64{3, 4}) {
				t.Fatalf("shape %v", out.shape)
			}
			near(t, tc.name, out.F32(), opsMap(opsXs, tc.f), 1e-5)
		})
	}
	// SoftPlus stays linear for large x (no overflow to +Inf).
	out := run(t, opsUnary("SoftPlus", "opset4", nil, irmodel.F32, "3"), f32("x", []int64{3}, 30, 100, -100))["y"]
	near(t, "SoftPlus large", out.F32(), []float32{30, 100, 0}, 1e-6)
}

func TestClampIntegerRoundsBoundsInward(t *testing.T) {
	// min -1.5 -> -1 (ceil), max 2.5 -> 2 (floor).
	out := run(t, opsUnary("Clamp", "opset1", map[string]string{"min": "-1.5", "max": "2.5"}, irmodel.I32, "5"), i32("x", []int64{5}, -5, -1, 0, 2, 7))["y"]
	if got := out.I32(); !slices.Equal(got, []int32{-1, -1, 0, 2, 2}) {
		t.Errorf("Clamp i32: %v", got)
	}
	// Bounds outside the type's range are kept inside it.
	n := opsUnary("Clamp", "opset1", map[string]string{"min": "-10", "max": "300"}, irmodel.U8, "3")
	out = run(t, n, feed{"x", irmodel.U8, []int64{3}, []byte{0, 7, 255}})["y"]
	if !slices.Equal(out.raw, []byte{0, 7, 255}) {
		t.Errorf("Clamp u8: %v", out.raw)
	}
}

func TestSwishBetaAndSelu(t *testing.T) {
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	n := opsNet("Swish", "opset4", nil, irtest.Port{Type: irmodel.F32, Shape: "3,4"}, func(n *irtest.Net) []irtest.Out {
		return []irtest.Out{n.Parameter("x", irmodel.F32, "3,4"), n.F32(nil, 0.75)}
	})
	out := run(t, n, f32("x", []int64{3, 4}, opsXs...))["y"]
	near(t, "Swish beta", out.F32(), opsMap(opsXs, func(x float64) float64 { return x * sigmoid(0.75*x) }), 1e-5)

	selu := func(x float64) float64 {
		if x > 0 {
			return 1.05 * x
		}
		return 1.05 * 1.67 * (math.Exp(x) - 1)
	}
	// Constant alpha and lambda (ONNX Selu) and computed ones (subgraph).
	n = opsNet("Selu", "opset1", nil, irtest.Port{Type: irmodel.F32, Shape: "3,4"}, func(n *irtest.Net) []irtest.Out {
		return []irtest.Out{n.Parameter("x", irmodel.F32, "3,4"), n.F32([]int64{1}, 1.67), n.F32([]int64{1}, 1.05)}
	})
	out = run(t, n, f32("x", []int64{3, 4}, opsXs...))["y"]
	near(t, "Selu const", out.F32(), opsMap(opsXs, selu), 1e-5)
	n = opsNet("Selu", "opset1", nil, irtest.Port{Type: irmodel.F32, Shape: "3,4"}, func(n *irtest.Net) []irtest.Out {
		return []irtest.Out{n.Parameter("x", irmodel.F32, "3,4"), n.Parameter("alpha", irmodel.F32, "1"), n.Parameter("lambda", irmodel.F32, "1")}
	})
	out = run(t, n, f32("x", []int64{3, 4}, opsXs...), f32("alpha", []int64{1}, 1.67), f32("lambda", []int64{1}, 1.05))["y"]
	near(t, "Selu computed", out.F32(), opsMap(opsXs, selu), 1e-5)
}

func TestPReluSlopeBroadcast(t *testing.T) {
	x := make([]float32, 12) // [1,3,2,2] or [3,4]
	for i := range x {
		x[i] = float32(i) - 6
	}
	prelu := func(v, s float32) float32 {
		if v >= 0 {
			return v
		}
		return s * v
	}
	cases := []struct {
		name, data, slopeShape string
		dims                   []int64
		slope                  []float32
		slopeAt                func(i int) int
	}{
		// 1-D slope as long as dimension 1: per channel.
		{"per-channel", "1,3,2,2", "3", []int64{1, 3, 2, 2}, []float32{0.1, 0.2, 0.3}, func(i int) int { return i / 4 }},
		// ... also when dimension 1 is dynamic.
		{"per-channel-dynamic", "1,?,2,2", "3", []int64{1, 3, 2, 2}, []float32{0.1, 0.2, 0.3}, func(i int) int { return i / 4 }},
		// 1-D slope of another length: NumPy rules (last dimension).
		{"numpy-last", "1,3,2,2", "2", []int64{1, 3, 2, 2}, []float32{0.1, 0.2}, func(i int) int { return i % 2 }},
		// 2-D data, slope over dimension 1 (both rules agree).
		{"2d", "3,4", "4", []int64{3, 4}, []float32{0.1, 0.2, 0.3, 0.4}, func(i int) int { return i % 4 }},
		// One slope for all.
		{"scalar-like", "3,4", "1", []int64{3, 4}, []float32{0.5}, func(int) int { return 0 }},
		// Slope of rank > 1: NumPy rules.
		{"numpy-2d", "1,3,2,2", "2,1", []int64{1, 3, 2, 2}, []float32{0.1, 0.2}, func(i int) int { return (i / 2) % 2 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sdims []int64
			for _, p := range strings.Split(tc.slopeShape, ",") {
				d, _ := irmodel.ParseDim(p)
				sdims = append(sdims, d.Size())
			}
			n := opsNet("PRelu", "opset1", nil, irtest.Port{Type: irmodel.F32, Shape: tc.data}, func(n *irtest.Net) []irtest.Out {
				return []irtest.Out{n.Parameter("x", irmodel.F32, tc.data), n.F32(sdims, tc.slope...)}
			})
			out := run(t, n, f32("x", tc.dims, x...))["y"]
			want := make([]float32, len(x))
			for i := range x {
				want[i] = prelu(x[i], tc.slope[tc.slopeAt(i)])
			}
			near(t, tc.name, out.F32(), want, 1e-6)
		})
	}
}

func TestSoftMaxAxes(t *testing.T) {
	x := []float32{1, 2, 3, 4, -1, 0, 0.5, 2, 3, 3, 3, 1}
	softmax := func(axis int, log bool) []float32 { // x as [2,3,2]
		dims := []int{2, 3, 2}
		strides := []int{6, 2, 1}
		out := make([]float32, 12)
		for i := range x {
			base := i - (i/strides[axis]%dims[axis])*strides[axis]
			var sum float64
			for k := 0; k < dims[axis]; k++ {
				sum += math.Exp(float64(x[base+k*strides[axis]]))
			}
			v := math.Exp(float64(x[i])) / sum
			if log {
				v = math.Log(v)
			}
			out[i] = float32(v)
		}
		return out
	}
	cases := []struct {
		op, ver, axis string
		want          []float32
	}{
		{"Softmax", "opset1", "", softmax(1, false)},
		{"SoftMax", "opset1", "2", softmax(2, false)},
		{"Softmax", "opset8", "-1", softmax(2, false)},
		{"SoftMax", "opset8", "-3", softmax(0, false)},
		{"LogSoftmax", "opset5", "-2", softmax(1, true)},
		{"LogSoftmax", "opset5", "0", softmax(0, true)},
	}
	for _, tc := range cases {
		var attrs map[string]string
		if tc.axis != "" {
			attrs = map[string]string{"axis": tc.axis}
		}
		out := run(t, opsUnary(tc.op, tc.ver, attrs, irmodel.F32, "?,3,2"), f32("x", []int64{2, 3, 2}, x...))["y"]
		near(t, tc.op+"-"+tc.ver+" axis "+tc.axis, out.F32(), tc.want, 1e-5)
	}
}

func TestActivationUnsupported(t *testing.T) {
	if e := opsTranslateErr(t, opsUnary("Gelu", "opset7", map[string]string{"approximation_mode": "sigmoid"}, irmodel.F32, "2")); !strings.Contains(e, `approximation_mode="sigmoid"`) {
		t.Errorf("Gelu: %q", e)
	}
	if e := opsTranslateErr(t, opsUnary("Mish", "opset4", nil, irmodel.I64, "2")); !strings.Contains(e, "input type i64") {
		t.Errorf("Mish: %q", e)
	}
}

func TestClampInt64HugeBounds(t *testing.T) {
	// TF-converted models clamp with ±FLT_MAX: on i64 those bounds must not
	// wrap when converted (int64(3.4e38) is MinInt64 on amd64).
	n := opsUnary("Clamp", "opset1", map[string]string{"min": "-3.4028234663852886e+38", "max": "3.4028234663852886e+38"}, irmodel.I64, "4")
	vals := []int64{math.MinInt64, -5, 7, math.MaxInt64}
	out := run(t, n, i64("x", []int64{4}, vals...))["y"]
	if got := out.I64(); !slices.Equal(got, vals) {
		t.Errorf("Clamp i64 ±FLT_MAX: %v, want %v", got, vals)
	}
	n = opsUnary("Clamp", "opset1", map[string]string{"min": "-2.5", "max": "1e30"}, irmodel.I64, "3")
	out = run(t, n, i64("x", []int64{3}, -9, 4, math.MaxInt64))["y"]
	if got := out.I64(); !slices.Equal(got, []int64{-2, 4, math.MaxInt64}) {
		t.Errorf("Clamp i64 [-2.5, 1e30]: %v", got)
	}
}
