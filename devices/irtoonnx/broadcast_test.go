package irtoonnx

import (
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// bcastRef broadcasts data of shape (already of the output rank, 1 where
// it repeats) to oshape.
func bcastRef(data []float32, shape, oshape []int64) []float32 {
	out := make([]float32, mvCount(oshape))
	for o := range out {
		oi := mvUnravel(o, oshape)
		for a := range oi {
			if shape[a] == 1 {
				oi[a] = 0
			}
		}
		out[o] = data[mvOffset(oi, shape)]
	}
	return out
}

func TestBroadcastModes(t *testing.T) {
	x := []float32{1, 2, 3}
	for _, tc := range []struct {
		name, ver, mode string
		target          []int64
		mapping         []int64
		aligned, want   []int64 // data's shape at the output rank, output shape
	}{
		{"numpy v1", "opset1", "numpy", []int64{2, 3}, nil, []int64{1, 3}, []int64{2, 3}},
		{"numpy v3", "opset3", "", []int64{2, 1, 3}, nil, []int64{1, 1, 3}, []int64{2, 1, 3}},
		{"bidirectional", "opset3", "bidirectional", []int64{2, 1, 1}, nil, []int64{1, 1, 3}, []int64{2, 1, 3}},
		{"explicit v1", "opset1", "explicit", []int64{3, 2}, []int64{0}, []int64{3, 1}, []int64{3, 2}},
		{"explicit v3", "opset3", "explicit", []int64{2, 3, 4}, []int64{1}, []int64{1, 3, 1}, []int64{2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := irtest.New("bcast")
			a := n.Parameter("a", irmodel.F32, "3")
			ins := []irtest.Out{a, n.I64([]int64{int64(len(tc.target))}, tc.target...)}
			if tc.mapping != nil {
				ins = append(ins, n.I64([]int64{int64(len(tc.mapping))}, tc.mapping...))
			}
			attrs := map[string]string{}
			if tc.mode != "" {
				attrs["mode"] = tc.mode
			}
			y := n.Op("Broadcast", tc.ver, attrs, ins, irtest.Port{Type: irmodel.F32, Shape: mvDyn(len(tc.want)), Names: "y"})
			n.Result(y[0], "y/sink")
			mvCheck(t, tc.name, run(t, n, f32("a", []int64{3}, x...))["y"], tc.want, bcastRef(x, tc.aligned, tc.want))
		})
	}
	// A computed target shape (ShapeOf) with a dynamic dim.
	n := irtest.New("bcast")
	a := n.Parameter("a", irmodel.F32, "1,?")
	b := n.Parameter("b", irmodel.F32, "?,?")
	s := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i32"}, []irtest.Out{b}, irtest.Port{Type: irmodel.I32, Shape: "2"})
	y := n.Op("Broadcast", "opset3", map[string]string{"mode": "numpy"}, []irtest.Out{a, s[0]}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "y"})
	n.Result(y[0], "y/sink")
	out := run(t, n, f32("a", []int64{1, 3}, x...), f32("b", []int64{2, 3}, mvIota(6)...))["y"]
	mvCheck(t, "computed", out, []int64{2, 3}, []float32{1, 2, 3, 1, 2, 3})
	// pdpd and a v1 bidirectional are not translated.
	for _, c := range []struct{ ver, mode string }{{"opset3", "pdpd"}, {"opset1", "bidirectional"}} {
		n := irtest.New("bcast")
		a := n.Parameter("a", irmodel.F32, "3")
		y := n.Op("Broadcast", c.ver, map[string]string{"mode": c.mode}, []irtest.Out{a, n.I64([]int64{2}, 2, 3)}, irtest.Port{Type: irmodel.F32, Shape: "2,3", Names: "y"})
		n.Result(y[0], "y/sink")
		mvExpectUnsupported(t, mvTranslateErr(t, n), `mode="`+c.mode+`"`)
	}
}

func TestTile(t *testing.T) {
	x := mvIota(6)
	for _, tc := range []struct {
		name     string
		reps     []int64
		computed bool
		aligned  []int64 // data shape at the output rank
		want     []int64
	}{
		{"same rank", []int64{2, 1}, false, []int64{2, 3}, []int64{4, 3}},
		{"shorter repeats", []int64{3}, false, []int64{2, 3}, []int64{2, 9}},
		{"longer repeats", []int64{2, 1, 2}, false, []int64{1, 2, 3}, []int64{2, 2, 6}},
		{"computed shorter", []int64{2}, true, []int64{2, 3}, []int64{2, 6}},
		{"computed longer", []int64{2, 2, 1}, true, []int64{1, 2, 3}, []int64{2, 4, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := irtest.New("tile")
			a := n.Parameter("a", irmodel.F32, "?,3")
			var r irtest.Out
			feeds := []feed{f32("a", []int64{2, 3}, x...)}
			if tc.computed {
				r = n.Parameter("r", irmodel.I32, irmodel.Shape(mvDims([]int64{int64(len(tc.reps))})).String())
				r32 := make([]int32, len(tc.reps))
				for i, v := range tc.reps {
					r32[i] = int32(v)
				}
				feeds = append(feeds, i32("r", []int64{int64(len(tc.reps))}, r32...))
			} else {
				r = n.I64([]int64{int64(len(tc.reps))}, tc.reps...)
			}
			y := n.Op("Tile", "opset1", nil, []irtest.Out{a, r}, irtest.Port{Type: irmodel.F32, Shape: mvDyn(len(tc.want)), Names: "y"})
			n.Result(y[0], "y/sink")
			// tiling = indexing modulo the input dims
			want := make([]float32, mvCount(tc.want))
			for o := range want {
				oi := mvUnravel(o, tc.want)
				for a := range oi {
					oi[a] %= tc.aligned[a]
				}
				want[o] = x[mvOffset(oi, tc.aligned)]
			}
			mvCheck(t, tc.name, run(t, n, feeds...)["y"], tc.want, want)
		})
	}
}
