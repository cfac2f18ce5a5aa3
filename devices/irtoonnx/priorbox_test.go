package irtoonnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// spatialOf adds ShapeOf(x)[2:4], the [height, width] chain IR feeds
// PriorBox with.
func spatialOf(n *irtest.Net, x irtest.Out) irtest.Out {
	s := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i64"}, []irtest.Out{x}, irtest.Port{Type: irmodel.I64, Shape: "4"})
	return n.Op("StridedSlice", "opset1", map[string]string{"begin_mask": "0", "end_mask": "0", "new_axis_mask": "", "shrink_axis_mask": "", "ellipsis_mask": ""},
		[]irtest.Out{s[0], n.I64([]int64{1}, 2), n.I64([]int64{1}, 4), n.I64([]int64{1}, 1)}, irtest.Port{Type: irmodel.I64, Shape: "2"})[0]
}

// priorNet is typ over a feature map [1,8,H,W] and an image [1,3,IH,IW]
// (shapes as given, so they may be dynamic); count is the declared second
// output dimension.
func priorNet(typ, version string, attrs map[string]string, feat, img string, count int) *irtest.Net {
	n := irtest.New("prior")
	f := n.Parameter("feat", irmodel.F32, feat)
	im := n.Parameter("image", irmodel.F32, img)
	y := n.Op(typ, version, attrs, []irtest.Out{spatialOf(n, f), spatialOf(n, im)}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("2,%d", count), Names: "priors"})
	n.Result(y[0], "out")
	return n
}

// priorBoxSpec is the test's reading of the PriorBox spec: for each cell,
// for each min_size s: the square s, then (min_max order) the square
// sqrt(s*max_size) and the aspect-ratio boxes s*sqrt(ar) x s/sqrt(ar), or
// the aspect-ratio boxes before the max square.
func priorBoxSpec(minS, maxS, ars []float64, flip, clip, order bool, step, offset float64, variance []float32, H, W, IH, IW int) []float32 {
	all := []float64{1}
	for _, a := range ars {
		seen := false
		for _, e := range all {
			seen = seen || math.Abs(a-e) < 1e-6
		}
		if !seen {
			all = append(all, a)
			if flip {
				all = append(all, 1/a)
			}
		}
	}
	type wh struct{ w, h float64 }
	var sizes []wh
	for i, s := range minS {
		sizes = append(sizes, wh{s, s})
		var arBoxes []wh
		for _, a := range all[1:] {
			arBoxes = append(arBoxes, wh{s * math.Sqrt(a), s / math.Sqrt(a)})
		}
		var maxBox []wh
		if i < len(maxS) {
			m := math.Sqrt(s * maxS[i])
			maxBox = []wh{{m, m}}
		}
		if order {
			sizes = append(append(sizes, maxBox...), arBoxes...)
		} else {
			sizes = append(append(sizes, arBoxes...), maxBox...)
		}
	}
	var out []float32
	for h := range H {
		for w := range W {
			cx, cy := (float64(w)+offset)*step, (float64(h)+offset)*step
			if step == 0 {
				cx, cy = (float64(w)+0.5)*float64(IW)/float64(W), (float64(h)+0.5)*float64(IH)/float64(H)
			}
			for _, s := range sizes {
				b := []float64{(cx - s.w/2) / float64(IW), (cy - s.h/2) / float64(IH), (cx + s.w/2) / float64(IW), (cy + s.h/2) / float64(IH)}
				for _, v := range b {
					if clip {
						v = min(max(v, 0), 1)
					}
					out = append(out, float32(v))
				}
			}
		}
	}
	n := len(out)
	for i := range n {
		out = append(out, variance[i%len(variance)])
	}
	return out
}

func TestPriorBox(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version string
		attrs   map[string]string
		minS    []float64
		maxS    []float64
		ars     []float64
		flip    bool
		clip    bool
		order   bool
		step    float64
		offset  float64
		varv    []float32
	}{
		{"v1 ssd", "opset1", map[string]string{"min_size": "8", "max_size": "16", "aspect_ratio": "2,2,3", "flip": "1", "clip": "0", "step": "8", "offset": "0.5", "variance": "0.1,0.1,0.2,0.2"},
			[]float64{8}, []float64{16}, []float64{2, 3}, true, false, true, 8, 0.5, []float32{0.1, 0.1, 0.2, 0.2}},
		{"v8 aspect first, clip, step 0", "opset8", map[string]string{"min_size": "6,10", "max_size": "12,20", "aspect_ratio": "2", "flip": "false", "clip": "true", "step": "0", "offset": "0.5", "variance": "0.2", "min_max_aspect_ratios_order": "false"},
			[]float64{6, 10}, []float64{12, 20}, []float64{2}, false, true, false, 0, 0.5, []float32{0.2}},
		{"v8 no variance", "opset8", map[string]string{"min_size": "4", "aspect_ratio": "", "step": "4", "offset": "0.25"},
			[]float64{4}, nil, nil, false, false, true, 4, 0.25, []float32{0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := priorBoxSpec(tc.minS, tc.maxS, tc.ars, tc.flip, tc.clip, tc.order, tc.step, tc.offset, tc.varv, 3, 4, 24, 32)
			res := run(t, priorNet("PriorBox", tc.version, tc.attrs, "1,8,3,4", "1,3,24,32", len(want)/2),
				f32("feat", []int64{1, 8, 3, 4}, make([]float32, 96)...), f32("image", []int64{1, 3, 24, 32}, make([]float32, 3*24*32)...))
			got := res["priors"]
			if len(got.shape) != 2 || got.shape[0] != 2 || got.shape[1] != int64(len(want)/2) {
				t.Fatalf("shape %v, want [2 %d]", got.shape, len(want)/2)
			}
			near(t, "priors", got.F32(), want, 1e-5)
		})
	}
}

func TestPriorBoxClustered(t *testing.T) {
	widths, heights := []float64{4, 10, 20}, []float64{6, 8, 30}
	spec := func(clip bool, stepW, stepH, offset float64, variance []float32, H, W, IH, IW int) []float32 {
		var out []float32
		for h := range H {
			for w := range W {
				cx, cy := (float64(w)+offset)*stepW, (float64(h)+offset)*stepH
				for s := range widths {
					for _, v := range []float64{(cx - widths[s]/2) / float64(IW), (cy - heights[s]/2) / float64(IH), (cx + widths[s]/2) / float64(IW), (cy + heights[s]/2) / float64(IH)} {
						if clip {
							v = min(max(v, 0), 1)
						}
						out = append(out, float32(v))
					}
				}
			}
		}
		n := len(out)
		for i := range n {
			out = append(out, variance[i%len(variance)])
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		want  []float32
	}{
		{"step", map[string]string{"width": "4,10,20", "height": "6,8,30", "clip": "false", "step": "8", "offset": "0.5", "variance": "0.1,0.1,0.2,0.2"},
			spec(false, 8, 8, 0.5, []float32{0.1, 0.1, 0.2, 0.2}, 3, 4, 24, 32)},
		{"step_w step_h clip", map[string]string{"width": "4,10,20", "height": "6,8,30", "step_w": "6", "step_h": "9", "offset": "0.5"},
			spec(true, 6, 9, 0.5, []float32{0.1}, 3, 4, 24, 32)},
		{"steps from sizes", map[string]string{"width": "4,10,20", "height": "6,8,30", "clip": "0", "offset": "0", "variance": "0.3"},
			spec(false, 8, 8, 0, []float32{0.3}, 3, 4, 24, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, priorNet("PriorBoxClustered", "opset1", tc.attrs, "1,8,3,4", "1,3,24,32", len(tc.want)/2),
				f32("feat", []int64{1, 8, 3, 4}, make([]float32, 96)...), f32("image", []int64{1, 3, 24, 32}, make([]float32, 3*24*32)...))
			near(t, "priors", res["priors"].F32(), tc.want, 1e-5)
		})
	}
}

func TestPriorBoxDynamicSizesAreUnsupported(t *testing.T) {
	for _, typ := range []string{"PriorBox", "PriorBoxClustered"} {
		n := priorNet(typ, "opset1", map[string]string{"min_size": "4", "width": "4", "height": "4", "offset": "0.5"}, "1,8,?,?", "1,3,24,32", 48)
		x, bin := n.Bytes()
		m, err := irmodel.Parse(x, bin)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Translate(m, Options{})
		if err == nil || !strings.Contains(err.Error(), typ+"-opset1") || !strings.Contains(err.Error(), "not known at translate time") {
			t.Fatalf("%s: got %v", typ, err)
		}
	}
}

// TestPriorBoxFixedSizeAndMXNet checks the fixed_size/density boxes and
// MXNet's relative sizes (scale_all_sizes false) on a 1x1 map, against
// values worked out by hand from the spec's reference formulas.
func TestPriorBoxFixedSizeAndMXNet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		img   string
		side  int64
		want  []float32
	}{
		// density 2 splits the 8-pixel box around the centre 8 into four
		// boxes centred at 6 and 10.
		{"density", map[string]string{"fixed_size": "8", "density": "2", "step": "16", "offset": "0.5"}, "1,3,16,16", 16, []float32{
			0.125, 0.125, 0.625, 0.625, 0.375, 0.125, 0.875, 0.625, 0.125, 0.375, 0.625, 0.875, 0.375, 0.375, 0.875, 0.875,
			0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}},
		// sizes 0.2 and 0.4 of a 20-pixel image, step -1 (= 20), the
		// aspect-ratio box of the first size after the last.
		{"mxnet", map[string]string{"min_size": "0.2,0.4", "aspect_ratio": "2", "scale_all_sizes": "false", "step": "-1", "offset": "0.5", "variance": "0.5"}, "1,3,20,20", 20, []float32{
			0.4, 0.4, 0.6, 0.6, 0.3, 0.3, 0.7, 0.7, 0.3585786, 0.4292893, 0.6414214, 0.5707107,
			0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := priorNet("PriorBox", "opset8", tc.attrs, "1,8,1,1", tc.img, len(tc.want)/2)
			res := run(t, n, f32("feat", []int64{1, 8, 1, 1}, make([]float32, 8)...), f32("image", []int64{1, 3, tc.side, tc.side}, make([]float32, 3*tc.side*tc.side)...))
			near(t, "priors", res["priors"].F32(), tc.want, 1e-6)
		})
	}
}
