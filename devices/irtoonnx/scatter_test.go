package irtoonnx

import (
	"fmt"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// scatterUpdateRef is ScatterUpdate-3 from its spec:
// out[p, indices[j], r] = updates[p, j, r] for p over data[:axis], j over
// indices' shape and r over data[axis+1:].
func scatterUpdateRef(data []float32, dshape []int64, idx, ishape []int64, upd []float32, axis int) []float32 {
	out := append([]float32{}, data...)
	ushape := append(append(append([]int64{}, dshape[:axis]...), ishape...), dshape[axis+1:]...)
	k := len(ishape)
	for u := range upd {
		ui := mvUnravel(u, ushape)
		v := idx[mvOffset(ui[axis:axis+k], ishape)]
		if v < 0 {
			v += dshape[axis]
		}
		di := append(append(append([]int64{}, ui[:axis]...), v), ui[axis+k:]...)
		out[mvOffset(di, dshape)] = upd[u]
	}
	return out
}

func TestScatterUpdate(t *testing.T) {
	for _, tc := range []struct {
		dshape, ishape []int64
		idx            []int64
		axis           int64
	}{
		{[]int64{4, 3}, []int64{2}, []int64{1, -1}, 0},
		{[]int64{2, 4, 3}, []int64{2, 1}, []int64{3, 0}, 1},
		{[]int64{2, 3, 4}, []int64{3}, []int64{0, -2, 3}, -1},
		{[]int64{2, 5}, []int64{}, []int64{2}, 1},
	} {
		t.Run(fmt.Sprint(tc.dshape, tc.ishape, tc.axis), func(t *testing.T) {
			axis := tc.axis
			if axis < 0 {
				axis += int64(len(tc.dshape))
			}
			ushape := append(append(append([]int64{}, tc.dshape[:axis]...), tc.ishape...), tc.dshape[axis+1:]...)
			data := mvIota(mvCount(tc.dshape))
			upd := mvIota(mvCount(ushape))
			for i := range upd {
				upd[i] = 100 + upd[i]
			}
			n := irtest.New("scatter")
			d := n.Parameter("d", irmodel.F32, mvDyn(len(tc.dshape)))
			i := n.Parameter("i", irmodel.I32, irmodel.Shape(mvDims(tc.ishape)).String())
			u := n.Parameter("u", irmodel.F32, irmodel.Shape(mvDims(ushape)).String())
			y := n.Op("ScatterUpdate", "opset3", nil, []irtest.Out{d, i, u, n.I64(nil, tc.axis)}, irtest.Port{Type: irmodel.F32, Shape: mvDyn(len(tc.dshape)), Names: "y"})
			n.Result(y[0], "y/sink")
			idx32 := make([]int32, len(tc.idx))
			for j, v := range tc.idx {
				idx32[j] = int32(v)
			}
			out := run(t, n, f32("d", tc.dshape, data...), i32("i", tc.ishape, idx32...), f32("u", ushape, upd...))["y"]
			mvCheck(t, "scatter", out, tc.dshape, scatterUpdateRef(data, tc.dshape, tc.idx, tc.ishape, upd, int(axis)))
		})
	}
}

func TestScatterNDUpdate(t *testing.T) {
	n := irtest.New("scatternd")
	d := n.Parameter("d", irmodel.F32, "?,3")
	i := n.Parameter("i", irmodel.I32, "2,1")
	u := n.Parameter("u", irmodel.F32, "2,3")
	y := n.Op("ScatterNDUpdate", "opset3", nil, []irtest.Out{d, i, u}, irtest.Port{Type: irmodel.F32, Shape: "?,3", Names: "y"})
	n.Result(y[0], "y/sink")
	out := run(t, n, f32("d", []int64{4, 3}, mvIota(12)...), i32("i", []int64{2, 1}, 2, 0), f32("u", []int64{2, 3}, 10, 11, 12, 13, 14, 15))["y"]
	mvCheck(t, "slices", out, []int64{4, 3}, []float32{13, 14, 15, 3, 4, 5, 10, 11, 12, 9, 10, 11})

	n = irtest.New("scatternd")
	d = n.Parameter("d", irmodel.F32, "2,3")
	y = n.Op("ScatterNDUpdate", "opset3", nil, []irtest.Out{d, n.I64([]int64{2, 2}, 1, 2, 0, 0), n.F32([]int64{2}, -1, -2)}, irtest.Port{Type: irmodel.F32, Shape: "2,3", Names: "y"})
	n.Result(y[0], "y/sink")
	out = run(t, n, f32("d", []int64{2, 3}, mvIota(6)...))["y"]
	mvCheck(t, "elements", out, []int64{2, 3}, []float32{-2, 1, 2, 3, 4, -1})
}
