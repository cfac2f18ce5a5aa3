package irtoonnx

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// nmsRef is NonMaxSuppression computed from the spec: per batch and class,
// boxes taken by decreasing score while score > scoreThr (as OpenVINO's
// reference compares), each kept unless its IoU with a kept box exceeds
// iouThr (NMS-9) or reaches it (NMS-5), at most maxOut per class; then,
// with sortDesc, a stable sort of all by score.
type nmsSel struct {
	b, c, i int
	s       float32
}

func nmsRef(boxes, scores []float32, nb, nc, nbox int, maxOut int, iouThr, scoreThr float32, center, sortDesc, v5 bool) []nmsSel {
	corners := func(b, i int) (y1, x1, y2, x2 float32) {
		v := boxes[(b*nbox+i)*4:]
		if center {
			return v[1] - v[3]/2, v[0] - v[2]/2, v[1] + v[3]/2, v[0] + v[2]/2
		}
		return min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])
	}
	iou := func(b, i, j int) float32 {
		ay1, ax1, ay2, ax2 := corners(b, i)
		by1, bx1, by2, bx2 := corners(b, j)
		ia := max(0, min(ay2, by2)-max(ay1, by1)) * max(0, min(ax2, bx2)-max(ax1, bx1))
		u := (ay2-ay1)*(ax2-ax1) + (by2-by1)*(bx2-bx1) - ia
		if u <= 0 {
			return 0
		}
		return ia / u
	}
	var out []nmsSel
	for b := range nb {
		for c := range nc {
			sc := scores[(b*nc+c)*nbox:][:nbox]
			order := make([]int, nbox)
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(x, y int) bool { return sc[order[x]] > sc[order[y]] })
			var kept []int
			for _, i := range order {
				if len(kept) >= maxOut || sc[i] <= scoreThr {
					break
				}
				ok := true
				for _, k := range kept {
					if o := iou(b, i, k); o > iouThr || (v5 && o >= iouThr) {
						ok = false
					}
				}
				if ok {
					kept = append(kept, i)
					out = append(out, nmsSel{b, c, i, sc[i]})
				}
			}
		}
	}
	if sortDesc {
		sort.SliceStable(out, func(x, y int) bool { return out[x].s > out[y].s })
	}
	return out
}

var (
	nmsBoxes = []float32{
		// batch 0: [y1, x1, y2, x2], the second overlapping the first, the
		// third given by its other diagonal.
		0, 0, 1, 1, 0, 0.1, 1, 1.1, 1, 1, 0, 0, 0, 10, 1, 11, 0, 10.1, 1, 11.1, 0, 100, 1, 101,
		// batch 1
		0, 0, 2, 2, 1, 1, 3, 3, 0, 0, 2, 2.2, 5, 5, 6, 6, 5.2, 5, 6.2, 6, 9, 9, 10, 10,
	}
	nmsScores = []float32{
		0.9, 0.75, 0.6, 0.95, 0.5, 0.3, // b0 c0
		0.5, 0.5, 0.4, 0.3, 0.2, 0.1, // b0 c1 (a tie)
		0.8, 0.7, 0.85, 0.3, 0.6, 0.65, // b1 c0
		0.1, 0.2, 0.3, 0.4, 0.5, 0.3, // b1 c1 (0.3 equals the threshold: dropped)
	}
)

// nmsNet is a NonMaxSuppression layer over boxes [2,6,4] and scores
// [2,2,6] with max_output 3, iou 0.5 and score threshold 0.3 as constants;
// rows is the declared first output dimension ("?" or a number).
func nmsNet(version string, attrs map[string]string, rows string, idxType irmodel.ElementType, inputs int) *irtest.Net {
	n := irtest.New("nms")
	boxes := n.Parameter("boxes", irmodel.F32, "2,6,4")
	scores := n.Parameter("scores", irmodel.F32, "2,2,6")
	ins := []irtest.Out{boxes, scores, n.I64(nil, 3), n.F32([]int64{1}, 0.5), n.F32(nil, 0.3), n.F32(nil, 0)}[:inputs]
	outs := n.Op("NonMaxSuppression", version, attrs, ins,
		irtest.Port{Type: idxType, Shape: rows + ",3", Names: "idx"},
		irtest.Port{Type: irmodel.F32, Shape: rows + ",3", Names: "sc"},
		irtest.Port{Type: idxType, Shape: "1", Names: "valid"})
	n.Result(outs[0], "r0")
	n.Result(outs[1], "r1")
	n.Result(outs[2], "r2")
	return n
}

func TestNonMaxSuppression(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  string
		attrs    map[string]string
		rows     string
		typ      irmodel.ElementType
		center   bool
		sortDesc bool
	}{
		{"v9 defaults", "opset9", nil, "?", irmodel.I64, false, true},
		{"v9 per class", "opset9", map[string]string{"sort_result_descending": "false"}, "?", irmodel.I64, false, false},
		{"v9 center i32", "opset9", map[string]string{"box_encoding": "center", "output_type": "i32"}, "?", irmodel.I32, true, true},
		{"v5 padded", "opset5", map[string]string{"sort_result_descending": "0"}, "12", irmodel.I64, false, false},
		{"v9 padded i32", "opset9", map[string]string{"output_type": "i32"}, "12", irmodel.I32, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, nmsNet(tc.version, tc.attrs, tc.rows, tc.typ, 6),
				f32("boxes", []int64{2, 6, 4}, nmsBoxes...), f32("scores", []int64{2, 2, 6}, nmsScores...))
			want := nmsRef(nmsBoxes, nmsScores, 2, 2, 6, 3, 0.5, 0.3, tc.center, tc.sortDesc, tc.version == "opset5")
			var wantIdx []int64
			var wantSc []float32
			for _, s := range want {
				wantIdx = append(wantIdx, int64(s.b), int64(s.c), int64(s.i))
				wantSc = append(wantSc, float32(s.b), float32(s.c), s.s)
			}
			if tc.rows != "?" {
				for len(wantIdx) < 36 {
					wantIdx = append(wantIdx, -1)
					wantSc = append(wantSc, -1)
				}
			}
			var gotIdx, valid []int64
			if tc.typ == irmodel.I32 {
				for _, v := range res["idx"].I32() {
					gotIdx = append(gotIdx, int64(v))
				}
				for _, v := range res["valid"].I32() {
					valid = append(valid, int64(v))
				}
			} else {
				gotIdx, valid = res["idx"].I64(), res["valid"].I64()
			}
			if !slices.Equal(gotIdx, wantIdx) {
				t.Fatalf("selected_indices %v\nwant %v", gotIdx, wantIdx)
			}
			near(t, "selected_scores", res["sc"].F32(), wantSc, 1e-6)
			if !slices.Equal(valid, []int64{int64(len(want))}) {
				t.Fatalf("valid_outputs %v, want %d", valid, len(want))
			}
		})
	}
}

func TestNonMaxSuppressionDefaultsSelectNothing(t *testing.T) {
	res := run(t, nmsNet("opset9", nil, "?", irmodel.I64, 2),
		f32("boxes", []int64{2, 6, 4}, nmsBoxes...), f32("scores", []int64{2, 2, 6}, nmsScores...))
	if got := res["idx"]; !slices.Equal(got.shape, []int64{0, 3}) {
		t.Fatalf("shape %v, want [0 3]", got.shape)
	}
	if v := res["valid"].I64(); !slices.Equal(v, []int64{0}) {
		t.Fatalf("valid %v", v)
	}
}

func TestNonMaxSuppressionSoftNMSIsUnsupported(t *testing.T) {
	n := irtest.New("nms")
	boxes := n.Parameter("boxes", irmodel.F32, "1,6,4")
	scores := n.Parameter("scores", irmodel.F32, "1,1,6")
	outs := n.Op("NonMaxSuppression", "opset9", nil,
		[]irtest.Out{boxes, scores, n.I64(nil, 3), n.F32(nil, 0.5), n.F32(nil, 0), n.F32(nil, 0.5)},
		irtest.Port{Type: irmodel.I64, Shape: "?,3"}, irtest.Port{Type: irmodel.F32, Shape: "?,3"}, irtest.Port{Type: irmodel.I64, Shape: "1"})
	n.Result(outs[0], "r")
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Translate(m, Options{})
	if err == nil || !containsAll(err.Error(), "NonMaxSuppression-opset9", "soft_nms_sigma=0.5") {
		t.Fatalf("got %v", err)
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestNonMaxSuppressionIoUAtThreshold: two boxes with IoU exactly 0.5 and
// iou_threshold 0.5: NMS-5 drops the second, NMS-9 keeps it; with no
// iou_threshold input (0) NMS-5 keeps one box per class even apart.
func TestNonMaxSuppressionIoUAtThreshold(t *testing.T) {
	boxes := []float32{0, 0, 1, 1, 0, 0, 1, 0.5, 5, 5, 6, 6}
	scores := []float32{0.9, 0.8, 0.7}
	for _, tc := range []struct {
		version string
		inputs  int
		want    []int64
	}{
		{"opset5", 4, []int64{0, 0, 0, 0, 0, 2}},
		{"opset9", 4, []int64{0, 0, 0, 0, 0, 1, 0, 0, 2}},
		{"opset5", 3, []int64{0, 0, 0}},
		{"opset9", 3, []int64{0, 0, 0, 0, 0, 2}},
	} {
		t.Run(fmt.Sprint(tc.version, " ", tc.inputs, " inputs"), func(t *testing.T) {
			n := irtest.New("nms")
			b := n.Parameter("boxes", irmodel.F32, "1,3,4")
			s := n.Parameter("scores", irmodel.F32, "1,1,3")
			ins := []irtest.Out{b, s, n.I64(nil, 5), n.F32(nil, 0.5)}[:tc.inputs]
			outs := n.Op("NonMaxSuppression", tc.version, nil, ins, irtest.Port{Type: irmodel.I64, Shape: "?,3", Names: "idx"},
				irtest.Port{Type: irmodel.F32, Shape: "?,3"}, irtest.Port{Type: irmodel.I64, Shape: "1"})
			n.Result(outs[0], "r")
			got := run(t, n, f32("boxes", []int64{1, 3, 4}, boxes...), f32("scores", []int64{1, 1, 3}, scores...))["idx"].I64()
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
