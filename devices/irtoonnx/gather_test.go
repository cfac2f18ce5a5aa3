package irtoonnx

import (
	"fmt"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// gatherRef is Gather-8 from its spec: out[p_0..p_{axis-1}, i_b..i_{M-1},
// p_{axis+1}..] = data[p_0..p_{axis-1}, indices[p_0..p_{b-1}, i_b..],
// p_{axis+1}..]; negative indices count from the end, out-of-range ones
// give 0.
func gatherRef(data []float32, dshape []int64, idx, ishape []int64, axis, b int) ([]float32, []int64) {
	k := len(ishape) - b
	oshape := append(append(append([]int64{}, dshape[:axis]...), ishape[b:]...), dshape[axis+1:]...)
	out := make([]float32, mvCount(oshape))
	for o := range out {
		oi := mvUnravel(o, oshape)
		ii := append(append([]int64{}, oi[:b]...), oi[axis:axis+k]...)
		v := idx[mvOffset(ii, ishape)]
		if v < 0 {
			v += dshape[axis]
		}
		if v < 0 || v >= dshape[axis] {
			continue
		}
		di := append(append(append([]int64{}, oi[:axis]...), v), oi[axis+k:]...)
		out[o] = data[mvOffset(di, dshape)]
	}
	return out, oshape
}

func TestGatherVersions(t *testing.T) {
	for _, tc := range []struct {
		ver            string
		dshape, ishape []int64
		idx            []int64
		axis, b        int64
		dynamic        bool
	}{
		{"opset1", []int64{3, 4}, []int64{2, 2}, []int64{0, 3, 2, 2}, 1, 0, false},
		{"opset1", []int64{3, 4}, []int64{}, []int64{2}, -2, 0, false},
		{"opset7", []int64{2, 3, 4}, []int64{2, 2}, []int64{0, 3, 1, 1}, 2, 1, false},
		{"opset7", []int64{2, 3, 4}, []int64{2, 2}, []int64{0, 2, 1, 1}, 1, 0, true},
		{"opset8", []int64{2, 4, 3}, []int64{2, 3}, []int64{-1, 0, 4, -5, 3, -4}, 1, -1, false},
		{"opset8", []int64{2, 5}, []int64{4}, []int64{-1, 7, 0, -6}, -1, 0, true},
		{"opset8", []int64{2, 2, 3, 2}, []int64{2, 2, 2}, []int64{0, -1, 2, 1, 1, 1, -3, 5}, 2, 2, false},
		{"opset8", []int64{2, 3, 4, 5}, []int64{2, 2, 2}, []int64{0, 4, -1, 2, 1, 1, 3, -2}, 3, 1, false},
		{"opset8", []int64{4, 3}, []int64{}, []int64{-1}, 0, 0, false},
	} {
		name := fmt.Sprintf("%s/axis%d/b%d/%v", tc.ver, tc.axis, tc.b, tc.ishape)
		t.Run(name, func(t *testing.T) {
			data := mvIota(mvCount(tc.dshape))
			for i := range data {
				data[i]++ // no zeros, so a zero fill shows
			}
			nb := tc.b
			if nb < 0 {
				nb += int64(len(tc.ishape))
			}
			n := irtest.New("gather")
			dshape := irmodel.Shape{}
			for _, d := range tc.dshape {
				dshape = append(dshape, irmodel.Dim{Min: d, Max: d})
			}
			if tc.dynamic {
				dshape[0] = irmodel.Dim{Min: 0, Max: -1}
			}
			d := n.Parameter("d", irmodel.F32, dshape.String())
			ishape := irmodel.Shape{}
			for _, x := range tc.ishape {
				ishape = append(ishape, irmodel.Dim{Min: x, Max: x})
			}
			i := n.Parameter("i", irmodel.I32, ishape.String())
			attrs := map[string]string{}
			if tc.ver != "opset1" {
				attrs["batch_dims"] = fmt.Sprint(tc.b)
			}
			y := n.Op("Gather", tc.ver, attrs, []irtest.Out{d, i, n.I64(nil, tc.axis)}, irtest.Port{Type: irmodel.F32, Shape: mvDyn(len(tc.dshape) - 1 + len(tc.ishape) - int(nb)), Names: "y"})
			n.Result(y[0], "y/sink")
			idx32 := make([]int32, len(tc.idx))
			for j, v := range tc.idx {
				idx32[j] = int32(v)
			}
			axis, b := tc.axis, tc.b
			if axis < 0 {
				axis += int64(len(tc.dshape))
			}
			if b < 0 {
				b += int64(len(tc.ishape))
			}
			want, wshape := gatherRef(data, tc.dshape, tc.idx, tc.ishape, int(axis), int(b))
			out := run(t, n, f32("d", tc.dshape, data...), i32("i", tc.ishape, idx32...))["y"]
			mvCheck(t, name, out, wshape, want)
		})
	}
}

// gatherNDRef is GatherND-8 from its spec (batch dims kept).
func gatherNDRef(data []float32, dshape []int64, idx, ishape []int64, b int) ([]float32, []int64) {
	q := int(ishape[len(ishape)-1])
	oshape := append(append([]int64{}, ishape[:len(ishape)-1]...), dshape[b+q:]...)
	out := make([]float32, mvCount(oshape))
	for o := range out {
		oi := mvUnravel(o, oshape)
		lead := oi[:len(ishape)-1]
		di := append([]int64{}, oi[:b]...)
		for j := range q {
			v := idx[mvOffset(append(append([]int64{}, lead...), int64(j)), ishape)]
			if v < 0 {
				v += dshape[b+j]
			}
			di = append(di, v)
		}
		di = append(di, oi[len(ishape)-1:]...)
		out[o] = data[mvOffset(di, dshape)]
	}
	return out, oshape
}

func TestGatherND(t *testing.T) {
	for _, tc := range []struct {
		ver            string
		dshape, ishape []int64
		idx            []int64
		b              int
		v5shape        []int64
	}{
		{"opset8", []int64{3, 4}, []int64{2, 2}, []int64{0, 1, 2, -1}, 0, nil},
		{"opset8", []int64{2, 3, 4}, []int64{2, 1, 2}, []int64{0, 1, 2, 3}, 1, nil},
		{"opset5", []int64{2, 3, 4, 5}, []int64{2, 3, 1, 1}, []int64{0, 1, 2, 3, 0, 1}, 2, []int64{6, 1, 5}},
		{"opset5", []int64{2, 3, 4}, []int64{2, 1}, []int64{1, 2}, 1, []int64{2, 4}},
	} {
		t.Run(fmt.Sprint(tc.ver, tc.ishape), func(t *testing.T) {
			data := mvIota(mvCount(tc.dshape))
			n := irtest.New("gathernd")
			d := n.Parameter("d", irmodel.F32, irmodel.Shape(mvDims(tc.dshape)).String())
			i := n.Parameter("i", irmodel.I64, irmodel.Shape(mvDims(tc.ishape)).String())
			want, wshape := gatherNDRef(data, tc.dshape, tc.idx, tc.ishape, tc.b)
			if tc.v5shape != nil {
				wshape = tc.v5shape
			}
			y := n.Op("GatherND", tc.ver, map[string]string{"batch_dims": fmt.Sprint(tc.b)}, []irtest.Out{d, i}, irtest.Port{Type: irmodel.F32, Shape: mvDyn(len(wshape)), Names: "y"})
			n.Result(y[0], "y/sink")
			mvCheck(t, "gathernd", run(t, n, f32("d", tc.dshape, data...), i64("i", tc.ishape, tc.idx...))["y"], wshape, want)
		})
	}
}

// mvDims turns sizes into static IR dims.
func mvDims(sizes []int64) []irmodel.Dim {
	out := make([]irmodel.Dim, len(sizes))
	for i, s := range sizes {
		out[i] = irmodel.Dim{Min: s, Max: s}
	}
	return out
}

func TestGatherElements(t *testing.T) {
	n := irtest.New("gatherelements")
	d := n.Parameter("d", irmodel.F32, "?,3")
	i := n.Parameter("i", irmodel.I32, "2,2")
	y := n.Op("GatherElements", "opset6", map[string]string{"axis": "-1"}, []irtest.Out{d, i}, irtest.Port{Type: irmodel.F32, Shape: "2,2", Names: "y"})
	n.Result(y[0], "y/sink")
	out := run(t, n, f32("d", []int64{2, 3}, 1, 2, 3, 4, 5, 6), i32("i", []int64{2, 2}, 2, 0, 1, 1))["y"]
	mvCheck(t, "gatherelements", out, []int64{2, 2}, []float32{3, 1, 5, 5})
}

func TestGatherBatchDimsPastAxisIsUnsupported(t *testing.T) {
	n := irtest.New("gather")
	d := n.Parameter("d", irmodel.F32, "2,3")
	i := n.Parameter("i", irmodel.I32, "2,2")
	y := n.Op("Gather", "opset8", map[string]string{"batch_dims": "2"}, []irtest.Out{d, i, n.I64(nil, 1)}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	mvExpectUnsupported(t, mvTranslateErr(t, n), "batch_dims=2 with axis 1")
}

// mvDyn is an IR shape of rank r with every dim dynamic.
func mvDyn(r int) string {
	s := ""
	for i := range r {
		if i > 0 {
			s += ","
		}
		s += "?"
	}
	return s
}

func TestGatherDynamicRank(t *testing.T) {
	build := func(ver, b string) *irtest.Net {
		n := irtest.New("gather")
		d := n.Parameter("d", irmodel.F32, "2,3")
		i := n.Parameter("i", irmodel.I32, "2")
		y := n.Op("Gather", ver, map[string]string{"batch_dims": b}, []irtest.Out{d, i, n.I64(nil, 1)}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
		n.Result(y[0], "y/sink")
		return n
	}
	if err := mvTranslateDynamicRank(t, build("opset7", "0"), "d"); err != nil {
		t.Fatal(err)
	}
	mvExpectUnsupported(t, mvTranslateDynamicRank(t, build("opset8", "0"), "d"), "needs the rank of data")
	mvExpectUnsupported(t, mvTranslateDynamicRank(t, build("opset7", "1"), "d"), "needs the rank of data")
}

func TestGather8ConstantIndices(t *testing.T) {
	data := mvIota(12)
	for _, idx := range [][]int64{{-1, 0, 2}, {-1, 5, 0}} { // in range: folded; out of range: zero fill
		n := irtest.New("gather")
		d := n.Parameter("d", irmodel.F32, "?,4")
		y := n.Op("Gather", "opset8", map[string]string{"batch_dims": "0"}, []irtest.Out{d, n.I64([]int64{3}, idx...), n.I64(nil, -1)}, irtest.Port{Type: irmodel.F32, Shape: "?,3", Names: "y"})
		n.Result(y[0], "y/sink")
		want, wshape := gatherRef(data, []int64{3, 4}, idx, []int64{3}, 1, 0)
		mvCheck(t, fmt.Sprint(idx), run(t, n, f32("d", []int64{3, 4}, data...))["y"], wshape, want)
	}
}
