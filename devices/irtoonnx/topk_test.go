package irtoonnx

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// topkRef is TopK on a [rows, cols] tensor along axis 1 per the spec with
// stable order: by value (descending for max) keeping input order among
// equals, the first k; sort=index then orders those by index.
func topkRef(data []float32, rows, cols, k int, mode, sortBy string) ([]float32, []int64) {
	var vals []float32
	var idx []int64
	for r := range rows {
		order := make([]int, cols)
		for i := range order {
			order[i] = i
		}
		row := data[r*cols : (r+1)*cols]
		sort.SliceStable(order, func(a, b int) bool {
			if mode == "max" {
				return row[order[a]] > row[order[b]]
			}
			return row[order[a]] < row[order[b]]
		})
		chosen := order[:k]
		if sortBy == "index" {
			slices.Sort(chosen)
		}
		for _, i := range chosen {
			vals = append(vals, row[i])
			idx = append(idx, int64(i))
		}
	}
	return vals, idx
}

func TestTopK(t *testing.T) {
	data := []float32{5, 3, 1, 2, 5, 5, 1, 6, 2, 6, 0, 3}
	for _, tc := range []struct {
		ver, mode, sort, indexType string
		axis                       int64
		computedK                  bool
	}{
		{"opset1", "max", "value", "", 1, false},
		{"opset1", "min", "index", "", -1, false},
		{"opset3", "max", "index", "i64", -1, true},
		{"opset3", "min", "value", "i32", 1, false},
		{"opset11", "max", "value", "i64", 1, false},
		{"opset11", "min", "index", "i32", -1, false},
		{"opset11", "max", "none", "i32", 0, false},
	} {
		name := fmt.Sprint(tc.ver, "/", tc.mode, "/", tc.sort, "/", tc.indexType, "/axis", tc.axis)
		t.Run(name, func(t *testing.T) {
			const k = 4
			rows, cols := 2, 6
			in := data
			if tc.axis == 0 { // axis 0 of the transposed [6,2] data
				in, _ = mvTransposeRef(data, []int64{2, 6}, []int64{1, 0})
			}
			wantV, wantI := topkRef(data, rows, cols, k, tc.mode, tc.sort)
			n := irtest.New("topk")
			shape := "2,?"
			feedShape := []int64{2, 6}
			oshape := []int64{2, k}
			if tc.axis == 0 {
				shape, feedShape, oshape = "?,2", []int64{6, 2}, []int64{k, 2}
			}
			a := n.Parameter("a", irmodel.F32, shape)
			feeds := []feed{f32("a", feedShape, in...)}
			kIn := n.I32(nil, k)
			if tc.computedK {
				kIn = n.Parameter("k", irmodel.I64, "")
				feeds = append(feeds, i64("k", nil, k))
			}
			attrs := map[string]string{"axis": fmt.Sprint(tc.axis), "mode": tc.mode, "sort": tc.sort}
			it := irmodel.I32
			if tc.indexType != "" {
				attrs["index_element_type"] = tc.indexType
				it = irmodel.ElementType(tc.indexType)
			}
			if tc.ver == "opset11" {
				attrs["stable"] = "true"
			}
			ys := n.Op("TopK", tc.ver, attrs, []irtest.Out{a, kIn}, irtest.Port{Type: irmodel.F32, Shape: "?,?", Names: "v"}, irtest.Port{Type: it, Shape: "?,?", Names: "i"})
			n.Result(ys[0], "v/sink")
			n.Result(ys[1], "i/sink")
			out := run(t, n, feeds...)
			if tc.axis == 0 {
				tv, _ := mvTransposeRef(wantV, []int64{2, k}, []int64{1, 0})
				wantV = tv
				fi := make([]float32, len(wantI))
				for i, v := range wantI {
					fi[i] = float32(v)
				}
				fi, _ = mvTransposeRef(fi, []int64{2, k}, []int64{1, 0})
				for i, v := range fi {
					wantI[i] = int64(v)
				}
			}
			mvCheck(t, "values", out["v"], oshape, wantV)
			if it == irmodel.I64 {
				mvCheckI64(t, "indices", out["i"], oshape, wantI)
			} else {
				w := make([]int32, len(wantI))
				for i, v := range wantI {
					w[i] = int32(v)
				}
				mvCheckI32(t, "indices", out["i"], oshape, w)
			}
		})
	}
	n := irtest.New("topk")
	a := n.Parameter("a", irmodel.F32, "2,6")
	ys := n.Op("TopK", "opset11", map[string]string{"axis": "1", "mode": "median", "sort": "value"}, []irtest.Out{a, n.I64(nil, 2)}, irtest.Port{Type: irmodel.F32, Shape: "2,2"}, irtest.Port{Type: irmodel.I32, Shape: "2,2"})
	n.Result(ys[0], "v")
	n.Result(ys[1], "i")
	mvExpectUnsupported(t, mvTranslateErr(t, n), `mode="median"`)
}
