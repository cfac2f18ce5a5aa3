package irtoonnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// normXs is a [2,3,2,2] input.
var normXs = func() []float32 {
	out := make([]float32, 24)
	for i := range out {
		out[i] = float32((i*5)%13)*0.5 - 2
	}
	return out
}()

var normDims = []int{2, 3, 2, 2}

// normIndex splits flat index i into coordinates of dims.
func normIndex(i int, dims []int) []int {
	idx := make([]int, len(dims))
	for k := len(dims) - 1; k >= 0; k-- {
		idx[k] = i % dims[k]
		i /= dims[k]
	}
	return idx
}

// normGroups gives each element the key of its slice over axes.
func normGroups(dims []int, axes []int) []string {
	r := len(dims)
	in := map[int]bool{}
	for _, a := range axes {
		in[(a+r)%r] = true
	}
	n := 1
	for _, d := range dims {
		n *= d
	}
	keys := make([]string, n)
	for i := range keys {
		idx := normIndex(i, dims)
		for k := range r {
			if !in[k] {
				keys[i] += fmt.Sprint(idx[k], ",")
			}
		}
	}
	return keys
}

// mvnRef is the MVN formula: mean and (biased) variance over axes.
func mvnRef(x []float32, dims []int, axes []int, normVar bool, eps float64, inside bool) []float32 {
	keys := normGroups(dims, axes)
	sum, cnt := map[string]float64{}, map[string]float64{}
	for i, k := range keys {
		sum[k] += float64(x[i])
		cnt[k]++
	}
	vs := map[string]float64{}
	for i, k := range keys {
		d := float64(x[i]) - sum[k]/cnt[k]
		vs[k] += d * d
	}
	out := make([]float32, len(x))
	for i, k := range keys {
		d := float64(x[i]) - sum[k]/cnt[k]
		if normVar {
			v := vs[k] / cnt[k]
			if inside {
				d /= math.Sqrt(v + eps)
			} else {
				d /= math.Sqrt(v) + eps
			}
		}
		out[i] = float32(d)
	}
	return out
}

// normNet is op(x [?,3,2,2], extra inputs) with output shape of x.
func normNet(op, ver string, attrs map[string]string, extra func(n *irtest.Net) []irtest.Out) *irtest.Net {
	return opsNet(op, ver, attrs, irtest.Port{Type: irmodel.F32, Shape: "?,3,2,2"}, func(n *irtest.Net) []irtest.Out {
		ins := []irtest.Out{n.Parameter("x", irmodel.F32, "?,3,2,2")}
		if extra != nil {
			ins = append(ins, extra(n)...)
		}
		return ins
	})
}

func TestMVN1(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]string
		axes  []int
		nv    bool
		eps   float64
	}{
		{map[string]string{"across_channels": "true", "normalize_variance": "true", "eps": "1e-3"}, []int{1, 2, 3}, true, 1e-3},
		{map[string]string{"across_channels": "false", "normalize_variance": "true", "eps": "0.5"}, []int{2, 3}, true, 0.5},
		{map[string]string{"across_channels": "false", "normalize_variance": "false", "eps": "1e-9"}, []int{2, 3}, false, 0},
		{map[string]string{"reduction_axes": "0,-1", "normalize_variance": "true", "eps": "0.01"}, []int{0, 3}, true, 0.01},
		// normalize_variance and across_channels absent: both default to false (MVN-1 spec).
		{map[string]string{"eps": "0.01"}, []int{2, 3}, false, 0},
	} {
		out := run(t, normNet("MVN", "opset1", tc.attrs, nil), f32("x", []int64{2, 3, 2, 2}, normXs...))["y"]
		near(t, fmt.Sprint("MVN-1 ", tc.attrs), out.F32(), mvnRef(normXs, normDims, tc.axes, tc.nv, tc.eps, true), 1e-5)
	}
}

func TestMVN6(t *testing.T) {
	for _, tc := range []struct {
		axes     []int64
		nv       bool
		eps      float64
		mode     string
		computed bool
	}{
		{[]int64{2, 3}, true, 0.25, "inside_sqrt", false},
		{[]int64{-2, -1}, true, 0.25, "outside_sqrt", false},
		{[]int64{0, 2, 3}, true, 1e-6, "outside_sqrt", true},
		{[]int64{1}, false, 1e-6, "inside_sqrt", false},
	} {
		attrs := map[string]string{"normalize_variance": fmt.Sprint(tc.nv), "eps": fmt.Sprint(tc.eps), "eps_mode": tc.mode}
		n := normNet("MVN", "opset6", attrs, func(n *irtest.Net) []irtest.Out {
			if tc.computed {
				return []irtest.Out{n.Parameter("axes", irmodel.I64, fmt.Sprint(len(tc.axes)))}
			}
			return []irtest.Out{n.I32([]int64{int64(len(tc.axes))}, i64to32(tc.axes)...)}
		})
		feeds := []feed{f32("x", []int64{2, 3, 2, 2}, normXs...)}
		if tc.computed {
			feeds = append(feeds, i64("axes", []int64{int64(len(tc.axes))}, tc.axes...))
		}
		out := run(t, n, feeds...)["y"]
		ax := make([]int, len(tc.axes))
		for i, a := range tc.axes {
			ax[i] = int(a)
		}
		near(t, fmt.Sprint("MVN-6 ", attrs, tc.axes), out.F32(), mvnRef(normXs, normDims, ax, tc.nv, tc.eps, tc.mode == "inside_sqrt"), 1e-5)
	}
	if e := opsTranslateErr(t, normNet("MVN", "opset6", map[string]string{"eps_mode": "nowhere", "eps": "1", "normalize_variance": "true"},
		func(n *irtest.Net) []irtest.Out { return []irtest.Out{n.I64([]int64{1}, 1)} })); !strings.Contains(e, `eps_mode="nowhere"`) {
		t.Errorf("eps_mode=nowhere: %q", e)
	}
}

func i64to32(v []int64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

func TestNormalizeL2(t *testing.T) {
	for _, tc := range []struct {
		axes []int64
		eps  float64
		mode string
	}{
		{[]int64{1}, 1e-6, "add"},
		{[]int64{1, 2, 3}, 1e-6, "max"},
		{[]int64{-1}, 20, "max"},
		{[]int64{-1}, 20, "add"},
		{[]int64{}, 1e-6, "add"},
	} {
		n := normNet("NormalizeL2", "opset1", map[string]string{"eps": fmt.Sprint(tc.eps), "eps_mode": tc.mode}, func(n *irtest.Net) []irtest.Out {
			return []irtest.Out{n.I64([]int64{int64(len(tc.axes))}, tc.axes...)}
		})
		out := run(t, n, f32("x", []int64{2, 3, 2, 2}, normXs...))["y"]
		ax := make([]int, len(tc.axes))
		for i, a := range tc.axes {
			ax[i] = int(a)
		}
		var keys []string
		if len(ax) == 0 { // each element alone
			for i := range normXs {
				keys = append(keys, fmt.Sprint(i))
			}
		} else {
			keys = normGroups(normDims, ax)
		}
		ss := map[string]float64{}
		for i, k := range keys {
			ss[k] += float64(normXs[i]) * float64(normXs[i])
		}
		want := make([]float32, len(normXs))
		for i, k := range keys {
			d := ss[k] + tc.eps
			if tc.mode == "max" {
				d = max(ss[k], tc.eps)
			}
			want[i] = float32(float64(normXs[i]) / math.Sqrt(d))
		}
		near(t, fmt.Sprint("NormalizeL2 ", tc), out.F32(), want, 1e-5)
	}
}

func TestBatchNormInferenceInputOrders(t *testing.T) {
	gamma, beta := []float32{1, 2, 0.5}, []float32{0, -1, 3}
	mean, variance := []float32{0.5, -1, 2}, []float32{4, 0.25, 1}
	const eps = 1e-3
	want := make([]float32, len(normXs))
	for i, x := range normXs {
		c := normIndex(i, normDims)[1]
		want[i] = float32((float64(x)-float64(mean[c]))/math.Sqrt(float64(variance[c])+eps)*float64(gamma[c]) + float64(beta[c]))
	}
	for _, tc := range []struct{ name, ver, order string }{
		{"v1 as IR writes it", "opset1", "gbx"},
		{"v1 as its spec lists it", "opset1", "xgb"},
		{"v5", "opset5", "xgb"},
	} {
		n := irtest.New("bn")
		x := n.Parameter("x", irmodel.F32, "?,3,2,2")
		g, b := n.F32([]int64{3}, gamma...), n.F32([]int64{3}, beta...)
		ins := []irtest.Out{x, g, b}
		if tc.order == "gbx" {
			ins = []irtest.Out{g, b, x}
		}
		ins = append(ins, n.F32([]int64{3}, mean...), n.F32([]int64{3}, variance...))
		y := n.Op("BatchNormInference", tc.ver, map[string]string{"epsilon": "0.001"}, ins, irtest.Port{Type: irmodel.F32, Shape: "?,3,2,2", Names: "y"})
		n.Result(y[0], "y/sink")
		out := run(t, n, f32("x", []int64{2, 3, 2, 2}, normXs...))["y"]
		near(t, tc.name, out.F32(), want, 1e-5)
	}
}

// lrnRef is the LRN-1 formula with windows [i - size/2, i + size/2] on
// each axis.
func lrnRef(x []float32, dims []int, axes []int, alpha, beta, bias float64, size int) []float32 {
	r := len(dims)
	in := map[int]bool{}
	for _, a := range axes {
		in[(a+r)%r] = true
	}
	out := make([]float32, len(x))
	for i := range x {
		idx := normIndex(i, dims)
		var sq float64
		for j := range x {
			jdx := normIndex(j, dims)
			ok := true
			for k := range r {
				if in[k] {
					if jdx[k] < idx[k]-size/2 || jdx[k] > idx[k]+size/2 {
						ok = false
					}
				} else if jdx[k] != idx[k] {
					ok = false
				}
			}
			if ok {
				sq += float64(x[j]) * float64(x[j])
			}
		}
		den := math.Pow(bias+alpha/math.Pow(float64(size), float64(len(axes)))*sq, beta)
		out[i] = float32(float64(x[i]) / den)
	}
	return out
}

func TestLRN(t *testing.T) {
	for _, tc := range []struct {
		axes []int64
		size int
	}{
		{[]int64{1}, 3},
		{[]int64{1}, 2}, // even: window of 3 (size/2 each side), divisor 2
		{[]int64{1}, 5},
		{[]int64{2, 3}, 3},
		{[]int64{-1}, 2},
		{[]int64{1, 2, 3}, 3},
	} {
		attrs := map[string]string{"alpha": "0.3", "beta": "0.75", "bias": "2", "size": fmt.Sprint(tc.size)}
		n := normNet("LRN", "opset1", attrs, func(n *irtest.Net) []irtest.Out {
			return []irtest.Out{n.I64([]int64{int64(len(tc.axes))}, tc.axes...)}
		})
		out := run(t, n, f32("x", []int64{2, 3, 2, 2}, normXs...))["y"]
		ax := make([]int, len(tc.axes))
		for i, a := range tc.axes {
			ax[i] = int(a)
		}
		near(t, fmt.Sprint("LRN ", tc), out.F32(), lrnRef(normXs, normDims, ax, 0.3, 0.75, 2, tc.size), 1e-5)
	}
	// Rank 2, channels.
	x := []float32{1, 2, 3, 4, -1, -2, 0.5, 6}
	n := opsNet("LRN", "opset1", map[string]string{"alpha": "1e-2", "beta": "0.5", "bias": "1", "size": "3"}, irtest.Port{Type: irmodel.F32, Shape: "2,4"},
		func(n *irtest.Net) []irtest.Out {
			return []irtest.Out{n.Parameter("x", irmodel.F32, "2,4"), n.I64([]int64{1}, 1)}
		})
	out := run(t, n, f32("x", []int64{2, 4}, x...))["y"]
	near(t, "LRN rank 2", out.F32(), lrnRef(x, []int{2, 4}, []int{1}, 1e-2, 0.5, 1, 3), 1e-5)
	if e := opsTranslateErr(t, normNet("LRN", "opset1", map[string]string{"alpha": "1", "beta": "1", "bias": "1", "size": "3"},
		func(n *irtest.Net) []irtest.Out { return []irtest.Out{n.I64([]int64{1}, 0)} })); !strings.Contains(e, "axes [0]") {
		t.Errorf("LRN over axis 0: %q", e)
	}
}
