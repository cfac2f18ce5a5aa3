package irtoonnx

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// reduceXs is a [2,3,4] input.
var reduceXs = func() []float32 {
	out := make([]float32, 24)
	for i := range out {
		out[i] = float32((i*7)%11) - 4.5
	}
	return out
}()

// reduceRef reduces x of shape dims over axes with f (applied to the
// slice of values), keeping the dimensions (as 1) or not.
func reduceRef(x []float32, dims []int, axes []int, keep bool, f func([]float64) float64) ([]float32, []int64) {
	r := len(dims)
	in := map[int]bool{}
	for _, a := range axes {
		in[(a+r)%r] = true
	}
	var outDims []int64
	for i, d := range dims {
		switch {
		case !in[i]:
			outDims = append(outDims, int64(d))
		case keep:
			outDims = append(outDims, 1)
		}
	}
	groups := map[string][]float64{}
	var order []string
	idx := make([]int, r)
	for i := range x {
		rem := i
		for k := r - 1; k >= 0; k-- {
			idx[k] = rem % dims[k]
			rem /= dims[k]
		}
		key := ""
		for k := range r {
			if !in[k] {
				key += fmt.Sprint(idx[k], ",")
			}
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], float64(x[i]))
	}
	out := make([]float32, len(order))
	for i, k := range order {
		out[i] = float32(f(groups[k]))
	}
	return out, outDims
}

var reduceFns = map[string]func([]float64) float64{
	"ReduceSum": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s
	},
	"ReduceMean": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	},
	"ReduceMax": func(v []float64) float64 { return slices.Max(v) },
	"ReduceMin": func(v []float64) float64 { return slices.Min(v) },
	"ReduceProd": func(v []float64) float64 {
		p := 1.0
		for _, x := range v {
			p *= x
		}
		return p
	},
	"ReduceL1": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += math.Abs(x)
		}
		return s
	},
	"ReduceL2": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	},
}

// reduceShape writes dims in IR syntax, the first one dynamic.
func reduceShape(dims []int64) string {
	s := ""
	for i, d := range dims {
		if i > 0 {
			s += ","
		}
		if i == 0 && d == 2 {
			s += "?"
		} else {
			s += fmt.Sprint(d)
		}
	}
	return s
}

func TestReductions(t *testing.T) {
	dims := []int{2, 3, 4}
	for op, f := range reduceFns {
		ver := "opset1"
		if op == "ReduceL1" || op == "ReduceL2" {
			ver = "opset4"
		}
		for _, tc := range []struct {
			axes     []int64
			scalar   bool
			keep     string
			computed bool
		}{
			{axes: []int64{1}, keep: "true"},
			{axes: []int64{-1}},
			{axes: []int64{0, 2}, keep: "false"},
			{axes: []int64{-3, -2, -1}, keep: "true"},
			{axes: []int64{2}, scalar: true},
			{axes: []int64{}, keep: "false"},
			{axes: []int64{2, 0}, computed: true},
			{axes: []int64{-2}, computed: true, keep: "true"},
		} {
			name := fmt.Sprintf("%s%v keep=%s scalar=%v computed=%v", op, tc.axes, tc.keep, tc.scalar, tc.computed)
			t.Run(name, func(t *testing.T) {
				ax := make([]int, len(tc.axes))
				for i, a := range tc.axes {
					ax[i] = int(a)
				}
				want, wantDims := reduceRef(reduceXs, dims, ax, tc.keep == "true", f)
				var attrs map[string]string
				if tc.keep != "" {
					attrs = map[string]string{"keep_dims": tc.keep}
				}
				n := opsNet(op, ver, attrs, irtest.Port{Type: irmodel.F32, Shape: reduceShape(wantDims)}, func(n *irtest.Net) []irtest.Out {
					x := n.Parameter("x", irmodel.F32, "?,3,4")
					if tc.computed {
						return []irtest.Out{x, n.Parameter("axes", irmodel.I32, fmt.Sprint(len(tc.axes)))}
					}
					if tc.scalar {
						return []irtest.Out{x, n.I64(nil, tc.axes...)}
					}
					return []irtest.Out{x, n.I64([]int64{int64(len(tc.axes))}, tc.axes...)}
				})
				feeds := []feed{f32("x", []int64{2, 3, 4}, reduceXs...)}
				if tc.computed {
					a32 := make([]int32, len(tc.axes))
					for i, a := range tc.axes {
						a32[i] = int32(a)
					}
					feeds = append(feeds, i32("axes", []int64{int64(len(a32))}, a32...))
				}
				out := run(t, n, feeds...)["y"]
				if !slices.Equal(out.shape, wantDims) && !(len(out.shape) == 0 && len(wantDims) == 0) {
					t.Fatalf("shape %v, want %v", out.shape, wantDims)
				}
				near(t, name, out.F32(), want, 1e-5)
			})
		}
	}
}

func TestCumSum(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6} // [2,3]
	cum := func(axis int, excl, rev bool) []float32 {
		dims, strides := []int{2, 3}, []int{3, 1}
		out := make([]float32, 6)
		for i := range x {
			pos := i / strides[axis] % dims[axis]
			base := i - pos*strides[axis]
			var s float32
			for k := range dims[axis] {
				take := k < pos || (k == pos && !excl)
				if rev {
					take = k > pos || (k == pos && !excl)
				}
				if take {
					s += x[base+k*strides[axis]]
				}
			}
			out[i] = s
		}
		return out
	}
	for _, tc := range []struct {
		axis       int64 // -9: no axis input (0)
		excl, rev  bool
		computed   bool
		wantOnAxis int
	}{
		{-9, false, false, false, 0},
		{1, false, false, false, 1},
		{-1, true, false, false, 1},
		{1, false, true, false, 1},
		{0, true, true, false, 0},
		{-2, false, true, true, 0},
		{1, true, false, true, 1},
	} {
		name := fmt.Sprintf("axis=%d exclusive=%v reverse=%v computed=%v", tc.axis, tc.excl, tc.rev, tc.computed)
		attrs := map[string]string{"exclusive": fmt.Sprint(tc.excl), "reverse": fmt.Sprint(tc.rev)}
		n := opsNet("CumSum", "opset3", attrs, irtest.Port{Type: irmodel.F32, Shape: "?,3"}, func(n *irtest.Net) []irtest.Out {
			x := n.Parameter("x", irmodel.F32, "?,3")
			switch {
			case tc.axis == -9:
				return []irtest.Out{x}
			case tc.computed:
				return []irtest.Out{x, n.Parameter("axis", irmodel.I64, "")}
			}
			return []irtest.Out{x, n.I32(nil, int32(tc.axis))}
		})
		feeds := []feed{f32("x", []int64{2, 3}, x...)}
		if tc.computed {
			feeds = append(feeds, i64("axis", nil, tc.axis))
		}
		out := run(t, n, feeds...)["y"]
		near(t, name, out.F32(), cum(tc.wantOnAxis, tc.excl, tc.rev), 0)
	}
}
