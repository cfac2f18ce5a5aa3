package irtoonnx

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// ssCase is one StridedSlice: masks as IR writes them ("0,1,1").
type ssCase struct {
	name                                     string
	shape                                    []int64
	begin, end, stride                       []int64
	beginMask, endMask, newAxis, shrink, ell string
}

func ssBits(s string, n int) []bool {
	out := make([]bool, n)
	for i, p := range strings.Split(s, ",") {
		if i < n && strings.TrimSpace(p) == "1" {
			out[i] = true
		}
	}
	return out
}

// ssRef is StridedSlice-1 computed step by step from the spec's rules
// (negative begin/end count from the end, clamping, masks, the ellipsis
// covering rank - (M - new axes - 1) dims), with end_mask on a reverse
// step reaching past element 0 as OpenVINO computes it.
func ssRef(tc ssCase, data []float32) ([]float32, []int64) {
	m := len(tc.begin)
	bm, em := ssBits(tc.beginMask, m), ssBits(tc.endMask, m)
	nm, sm, elm := ssBits(tc.newAxis, m), ssBits(tc.shrink, m), ssBits(tc.ell, m)
	rank := len(tc.shape)
	newAxes := 0
	for i := range m {
		if nm[i] && !elm[i] {
			newAxes++
		}
	}
	sel := make([][]int64, rank) // chosen indices of each input axis
	shrunk := make([]bool, rank) // axis is removed
	var outAxes []int            // input axis of each output dim, -1 for a new one
	in := 0
	full := func(a int) {
		for i := range tc.shape[a] {
			sel[a] = append(sel[a], i)
		}
		outAxes = append(outAxes, a)
	}
	for i := range m {
		switch {
		case nm[i]:
			outAxes = append(outAxes, -1)
		case sm[i]:
			b := tc.begin[i]
			if b < 0 {
				b += tc.shape[in]
			}
			sel[in], shrunk[in] = []int64{b}, true
			in++
		case elm[i]:
			for range rank - (m - newAxes - 1) {
				full(in)
				in++
			}
		default:
			dim, s := tc.shape[in], tc.stride[i]
			b, e := tc.begin[i], tc.end[i]
			if b < 0 {
				b += dim
			}
			if e < 0 {
				e += dim
			}
			if s > 0 {
				if bm[i] {
					b = 0
				}
				if em[i] {
					e = dim
				}
				b, e = max(0, min(b, dim)), max(0, min(e, dim))
				for j := b; j < e; j += s {
					sel[in] = append(sel[in], j)
				}
			} else {
				if bm[i] {
					b = dim - 1
				}
				if em[i] {
					e = -1
				}
				b, e = max(0, min(b, dim-1)), max(-1, min(e, dim))
				for j := b; j > e; j += s {
					sel[in] = append(sel[in], j)
				}
			}
			outAxes = append(outAxes, in)
			in++
		}
	}
	for in < rank {
		full(in)
		in++
	}
	oshape := make([]int64, len(outAxes))
	for i, a := range outAxes {
		oshape[i] = 1
		if a >= 0 {
			oshape[i] = int64(len(sel[a]))
		}
	}
	out := make([]float32, mvCount(oshape))
	for o := range out {
		oi := mvUnravel(o, oshape)
		ii := make([]int64, rank)
		for a := range rank {
			if shrunk[a] {
				ii[a] = sel[a][0]
			}
		}
		for i, a := range outAxes {
			if a >= 0 {
				ii[a] = sel[a][oi[i]]
			}
		}
		out[o] = data[mvOffset(ii, tc.shape)]
	}
	return out, oshape
}

func TestStridedSliceMasks(t *testing.T) {
	s234 := []int64{2, 3, 4}
	for _, tc := range []ssCase{
		{name: "basic", shape: s234, begin: []int64{0, 1, 0}, end: []int64{2, 3, 4}, stride: []int64{1, 1, 2}},
		{name: "negative and clamped", shape: s234, begin: []int64{-1, -5, 10}, end: []int64{5, -1, 0}, stride: []int64{1, 1, -1}},
		{name: "begin and end masks reverse", shape: s234, begin: []int64{1, 1, 123}, end: []int64{0, 0, 2}, stride: []int64{1, 1, -1}, beginMask: "0,1,1", endMask: "1,1,1"},
		{name: "new axes", shape: []int64{2, 4}, begin: []int64{0, 0, 0, 0}, end: []int64{0, 2, 0, 4}, stride: []int64{1, 1, 1, 1}, newAxis: "1,0,1,0"},
		{name: "shrink at -1", shape: s234, begin: []int64{1, -1}, end: []int64{2, 0}, stride: []int64{1, 1}, shrink: "1,1"},
		{name: "shrink ignores begin_mask", shape: s234, begin: []int64{1}, end: []int64{2}, stride: []int64{1}, shrink: "1", beginMask: "1"},
		{name: "ellipsis", shape: s234, begin: []int64{0, 0, 1}, end: []int64{1, 0, 3}, stride: []int64{1, 1, 1}, shrink: "1", ell: "0,1"},
		{name: "ellipsis new axis reverse", shape: s234, begin: []int64{0, 0, 0}, end: []int64{0, 0, 0}, stride: []int64{1, 1, -2}, ell: "1", newAxis: "0,1", beginMask: "0,0,1", endMask: "0,0,1"},
		{name: "ellipsis covering nothing", shape: []int64{2, 3}, begin: []int64{1, 0, 0}, end: []int64{2, 0, 2}, stride: []int64{1, 1, 1}, ell: "0,1,0"},
		{name: "fewer steps than rank", shape: s234, begin: []int64{1}, end: []int64{2}, stride: []int64{1}},
		{name: "long masks", shape: s234, begin: []int64{0, 2}, end: []int64{1, 3}, stride: []int64{1, 1}, beginMask: "1,0,1,1,1", endMask: "0,0,0,0,0,0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := mvIota(mvCount(tc.shape))
			want, wshape := ssRef(tc, data)
			for _, dyn := range []bool{false, true} {
				n := irtest.New("ss")
				shape := irmodel.Shape(mvDims(tc.shape))
				if dyn {
					shape[0] = irmodel.Dim{Min: 0, Max: -1}
				}
				a := n.Parameter("a", irmodel.F32, shape.String())
				l := []int64{int64(len(tc.begin))}
				attrs := map[string]string{"begin_mask": tc.beginMask, "end_mask": tc.endMask, "new_axis_mask": tc.newAxis, "shrink_axis_mask": tc.shrink, "ellipsis_mask": tc.ell}
				y := n.Op("StridedSlice", "opset1", attrs, []irtest.Out{a, n.I64(l, tc.begin...), n.I64(l, tc.end...), n.I64(l, tc.stride...)},
					irtest.Port{Type: irmodel.F32, Shape: mvDyn(len(wshape)), Names: "y"})
				n.Result(y[0], "y/sink")
				mvCheck(t, fmt.Sprint(tc.name, " dynamic=", dyn), run(t, n, f32("a", tc.shape, data...))["y"], wshape, want)
			}
		})
	}
}

func TestStridedSliceComputedBounds(t *testing.T) {
	tc := ssCase{shape: []int64{2, 3, 4}, begin: []int64{1, 0, -1}, end: []int64{0, 1, 0}, stride: []int64{1, -1, 1}, beginMask: "0,1,0", endMask: "1,0,0", shrink: "0,0,1"}
	data := mvIota(24)
	want, wshape := ssRef(tc, data)
	n := irtest.New("ss")
	a := n.Parameter("a", irmodel.F32, "?,3,4")
	b := n.Parameter("b", irmodel.I32, "3")
	e := n.Parameter("e", irmodel.I64, "3")
	attrs := map[string]string{"begin_mask": tc.beginMask, "end_mask": tc.endMask, "shrink_axis_mask": tc.shrink}
	y := n.Op("StridedSlice", "opset1", attrs, []irtest.Out{a, b, e, n.I64([]int64{3}, tc.stride...)}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	out := run(t, n, f32("a", tc.shape, data...), i32("b", []int64{3}, 1, 0, -1), i64("e", []int64{3}, tc.end...))["y"]
	mvCheck(t, "computed", out, wshape, want)

	// A computed stride cannot say which end a begin_mask means.
	n = irtest.New("ss")
	a = n.Parameter("a", irmodel.F32, "2,3")
	st := n.Parameter("s", irmodel.I64, "2")
	y = n.Op("StridedSlice", "opset1", map[string]string{"begin_mask": "1,0", "end_mask": "0,0"}, []irtest.Out{a, n.I64([]int64{2}, 0, 0), n.I64([]int64{2}, 2, 2), st}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	mvExpectUnsupported(t, mvTranslateErr(t, n), "stride (input 3) must be a constant when begin_mask or end_mask is set")
	// Computed begin of dynamic length.
	n = irtest.New("ss")
	a = n.Parameter("a", irmodel.F32, "2,3")
	b = n.Parameter("b", irmodel.I64, "?")
	y = n.Op("StridedSlice", "opset1", map[string]string{"begin_mask": "0", "end_mask": "0"}, []irtest.Out{a, b, n.I64([]int64{1}, 1)}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	mvExpectUnsupported(t, mvTranslateErr(t, n), "begin (input 1) has no static length")
}

func TestSlice8(t *testing.T) {
	n := irtest.New("slice")
	a := n.Parameter("a", irmodel.F32, "?,5")
	y := n.Op("Slice", "opset8", nil, []irtest.Out{a, n.I32([]int64{2}, 4, 0), n.I32([]int64{2}, 0, 1), n.I32([]int64{2}, -2, 1), n.I32([]int64{2}, -1, 0)},
		irtest.Port{Type: irmodel.F32, Shape: "1,2", Names: "y"})
	n.Result(y[0], "y/sink")
	mvCheck(t, "axes", run(t, n, f32("a", []int64{2, 5}, mvIota(10)...))["y"], []int64{1, 2}, []float32{4, 2})
	// without axes, clamped stop
	n = irtest.New("slice")
	a = n.Parameter("a", irmodel.F32, "2,5")
	y = n.Op("Slice", "opset8", nil, []irtest.Out{a, n.I64([]int64{2}, 1, -4), n.I64([]int64{2}, 100, 100), n.I64([]int64{2}, 1, 2)},
		irtest.Port{Type: irmodel.F32, Shape: "1,2", Names: "y"})
	n.Result(y[0], "y/sink")
	mvCheck(t, "no axes", run(t, n, f32("a", []int64{2, 5}, mvIota(10)...))["y"], []int64{1, 2}, []float32{6, 8})
}

func TestStridedSliceDynamicRank(t *testing.T) {
	build := func(ell string) *irtest.Net {
		n := irtest.New("ss")
		a := n.Parameter("a", irmodel.F32, "2,3,4")
		y := n.Op("StridedSlice", "opset1", map[string]string{"begin_mask": "0,0", "end_mask": "0,0", "ellipsis_mask": ell},
			[]irtest.Out{a, n.I64([]int64{2}, 0, 1), n.I64([]int64{2}, 0, 2)}, irtest.Port{Type: irmodel.F32, Shape: "?,?,?", Names: "y"})
		n.Result(y[0], "y/sink")
		return n
	}
	// Without an ellipsis the steps name their axes: no rank needed.
	if err := mvTranslateDynamicRank(t, build("0,0"), "a"); err != nil {
		t.Fatal(err)
	}
	mvExpectUnsupported(t, mvTranslateDynamicRank(t, build("1,0"), "a"), "ellipsis_mask needs the input rank, which is dynamic")
}
