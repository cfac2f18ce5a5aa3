package irtoonnx

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// detAttrs are the DetectionOutput settings a test case uses.
type detAttrs struct {
	center                 bool
	background, topK, keep int
	nms, conf              float32
	clipBefore, clipAfter  bool
}

// detectionRef is Caffe's DetectionOutput as the spec describes it, for
// shared locations and priors [2, P*4] (boxes, variances).
func detectionRef(loc, conf, priors []float32, N, P, C int, a detAttrs) []float32 {
	type det struct {
		c, p  int
		score float32
	}
	var out []float32
	for n := range N {
		boxes := make([][4]float32, P)
		for p := range P {
			pb, v, l := priors[4*p:4*p+4], priors[4*P+4*p:4*P+4*p+4], loc[(n*P+p)*4:(n*P+p)*4+4]
			var b [4]float32
			if a.center {
				pw, ph := pb[2]-pb[0], pb[3]-pb[1]
				cx, cy := v[0]*l[0]*pw+(pb[0]+pb[2])/2, v[1]*l[1]*ph+(pb[1]+pb[3])/2
				w, h := float32(math.Exp(float64(v[2]*l[2])))*pw, float32(math.Exp(float64(v[3]*l[3])))*ph
				b = [4]float32{cx - w/2, cy - h/2, cx + w/2, cy + h/2}
			} else {
				for i := range 4 {
					b[i] = pb[i] + v[i]*l[i]
				}
			}
			if a.clipBefore {
				for i := range b {
					b[i] = min(max(b[i], 0), 1)
				}
			}
			boxes[p] = b
		}
		iou := func(x, y [4]float32) float32 {
			if y[0] > x[2] || y[2] < x[0] || y[1] > x[3] || y[3] < x[1] {
				return 0
			}
			iw, ih := min(x[2], y[2])-max(x[0], y[0]), min(x[3], y[3])-max(x[1], y[1])
			inter := iw * ih
			return inter / ((x[2]-x[0])*(x[3]-x[1]) + (y[2]-y[0])*(y[3]-y[1]) - inter)
		}
		var dets []det
		for c := range C {
			if c == a.background {
				continue
			}
			var cand []int
			for p := range P {
				if conf[(n*P+p)*C+c] > a.conf {
					cand = append(cand, p)
				}
			}
			sort.SliceStable(cand, func(i, j int) bool { return conf[(n*P+cand[i])*C+c] > conf[(n*P+cand[j])*C+c] })
			if a.topK > -1 && len(cand) > a.topK {
				cand = cand[:a.topK]
			}
			var kept []int
			for _, p := range cand {
				ok := true
				for _, k := range kept {
					if iou(boxes[p], boxes[k]) > a.nms {
						ok = false
					}
				}
				if ok {
					kept = append(kept, p)
					dets = append(dets, det{c, p, conf[(n*P+p)*C+c]})
				}
			}
		}
		if a.keep > -1 && len(dets) > a.keep {
			sort.SliceStable(dets, func(i, j int) bool { return dets[i].score > dets[j].score })
			dets = dets[:a.keep]
			sort.SliceStable(dets, func(i, j int) bool { return dets[i].c < dets[j].c })
		}
		for _, d := range dets {
			b := boxes[d.p]
			if a.clipAfter {
				for i := range b {
					b[i] = min(max(b[i], 0), 1)
				}
			}
			out = append(out, float32(n), float32(d.c), d.score, b[0], b[1], b[2], b[3])
		}
	}
	per := P * C
	if a.keep > 0 {
		per = a.keep
	} else if a.topK > 0 {
		per = a.topK * C
	}
	if len(out) < 7*N*per {
		out = append(out, -1, 0, 0, 0, 0, 0, 0)
	}
	for len(out) < 7*N*per {
		out = append(out, 0)
	}
	return out
}

// TestSSDHead runs an SSD-style head: PriorBox over a 3x3 feature map of a
// 30x30 image (4 priors per cell), Unsqueeze, and DetectionOutput over
// box logits and class scores for a batch of 2, against detectionRef.
func TestSSDHead(t *testing.T) {
	const N, C = 2, 3
	pbAttrs := map[string]string{"min_size": "10", "max_size": "20", "aspect_ratio": "2", "flip": "1", "clip": "0", "step": "10", "offset": "0.5", "variance": "0.1,0.1,0.2,0.2"}
	priors := priorBoxSpec([]float64{10}, []float64{20}, []float64{2}, true, false, true, 10, 0.5, []float32{0.1, 0.1, 0.2, 0.2}, 3, 3, 30, 30)
	P := len(priors) / 8
	seed := uint32(7)
	rnd := func() float32 {
		seed = seed*1664525 + 1013904223
		return float32(seed>>8) / float32(1<<24)
	}
	loc := make([]float32, N*P*4)
	for i := range loc {
		loc[i] = (rnd() - 0.5) * 2
	}
	conf := make([]float32, N*P*C)
	for i := range conf {
		conf[i] = rnd()
	}
	for _, tc := range []struct {
		name  string
		ver   string
		attrs map[string]string
		a     detAttrs
	}{
		{"v8 center keep_top_k", "opset8", map[string]string{"code_type": "caffe.PriorBoxParameter.CENTER_SIZE", "background_label_id": "0", "top_k": "10", "keep_top_k": "8", "nms_threshold": "0.45", "confidence_threshold": "0.3", "share_location": "true", "variance_encoded_in_target": "false", "normalized": "true"},
			detAttrs{center: true, background: 0, topK: 10, keep: 8, nms: 0.45, conf: 0.3}},
		{"v1 center top_k only", "opset1", map[string]string{"num_classes": "3", "code_type": "caffe.PriorBoxParameter.CENTER_SIZE", "background_label_id": "0", "top_k": "5", "keep_top_k": "-1", "nms_threshold": "0.3", "confidence_threshold": "0.5", "normalized": "1", "clip_after_nms": "1"},
			detAttrs{center: true, background: 0, topK: 5, keep: -1, nms: 0.3, conf: 0.5, clipAfter: true}},
		{"v8 corner no background, clip before", "opset8", map[string]string{"code_type": "caffe.PriorBoxParameter.CORNER", "background_label_id": "-1", "keep_top_k": "200", "nms_threshold": "0.5", "confidence_threshold": "0.8", "normalized": "true", "clip_before_nms": "true"},
			detAttrs{center: false, background: -1, topK: -1, keep: 200, nms: 0.5, conf: 0.8, clipBefore: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := detectionRef(loc, conf, priors, N, P, C, tc.a)
			n := irtest.New("ssd")
			feat := n.Parameter("feat", irmodel.F32, "?,8,3,3")
			img := n.Parameter("image", irmodel.F32, "?,3,30,30")
			l := n.Parameter("loc", irmodel.F32, fmt.Sprintf("?,%d", P*4))
			cf := n.Parameter("conf", irmodel.F32, fmt.Sprintf("?,%d", P*C))
			pb := n.Op("PriorBox", "opset8", pbAttrs, []irtest.Out{spatialOf(n, feat), spatialOf(n, img)}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("2,%d", P*4)})
			pr := n.Op("Unsqueeze", "opset1", nil, []irtest.Out{pb[0], n.I64(nil, 0)}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("1,2,%d", P*4)})
			do := n.Op("DetectionOutput", tc.ver, tc.attrs, []irtest.Out{l, cf, pr[0]}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("1,1,%d,7", len(want)/7), Names: "det"})
			n.Result(do[0], "out")
			res := run(t, n, f32("feat", []int64{1, 8, 3, 3}, make([]float32, 72)...), f32("image", []int64{1, 3, 30, 30}, make([]float32, 2700)...),
				f32("loc", []int64{N, int64(P * 4)}, loc...), f32("conf", []int64{N, int64(P * C)}, conf...))["det"]
			if len(res.shape) != 4 || res.shape[2] != int64(len(want)/7) {
				t.Fatalf("shape %v, want [1 1 %d 7]", res.shape, len(want)/7)
			}
			valid := 0
			for valid*7 < len(want) && want[valid*7] >= 0 {
				valid++
			}
			t.Logf("%d detections of %d rows", valid, len(want)/7)
			if valid == 0 {
				t.Fatal("the case selects nothing")
			}
			near(t, "detections", res.F32(), want, 1e-5)
		})
	}
}

func TestDetectionOutputUnsupportedForms(t *testing.T) {
	for attr, val := range map[string]string{"share_location": "false", "variance_encoded_in_target": "true", "decrease_label_id": "true", "code_type": "caffe.PriorBoxParameter.CORNER_SIZE"} {
		n := irtest.New("det")
		l := n.Parameter("loc", irmodel.F32, "1,16")
		cf := n.Parameter("conf", irmodel.F32, "1,8")
		pr := n.Parameter("priors", irmodel.F32, "1,2,16")
		attrs := map[string]string{"normalized": "true", "keep_top_k": "4", "nms_threshold": "0.5", attr: val}
		do := n.Op("DetectionOutput", "opset8", attrs, []irtest.Out{l, cf, pr}, irtest.Port{Type: irmodel.F32, Shape: "1,1,4,7"})
		n.Result(do[0], "out")
		x, bin := n.Bytes()
		m, err := irmodel.Parse(x, bin)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Translate(m, Options{})
		if err == nil || !strings.Contains(err.Error(), "DetectionOutput-opset8") || !strings.Contains(err.Error(), attr) {
			t.Errorf("%s=%s: got %v", attr, val, err)
		}
	}
}

// TestDetectionOutputPixelPriors: normalized false, priors [1, 2, P*5] in
// pixels (a leading unused value per prior, variances after the boxes),
// compared with the same detections from normalized priors.
func TestDetectionOutputPixelPriors(t *testing.T) {
	const N, P, C, IW, IH = 1, 6, 2, 40, 20
	var boxes, vars, pix []float32
	for p := range P {
		x, y := float32(p%3)*12+2, float32(p/3)*8+1
		b := []float32{x / IW, y / IH, (x + 14) / IW, (y + 9) / IH}
		boxes = append(boxes, b...)
		vars = append(vars, 0.1, 0.1, 0.2, 0.2)
		pix = append(pix, 7, x, y, x+14, y+9)
	}
	priors := append(append([]float32{}, boxes...), vars...)
	pixPriors := append(append(append([]float32{}, pix...), vars...), make([]float32, P)...) // the rest of the 2*P*5 block is unused
	loc := make([]float32, N*P*4)
	conf := make([]float32, N*P*C)
	for i := range loc {
		loc[i] = float32(i%7-3) * 0.1
	}
	for i := range conf {
		conf[i] = float32((i*5)%11) / 11
	}
	a := detAttrs{center: true, background: 0, topK: -1, keep: 4, nms: 0.4, conf: 0.1}
	want := detectionRef(loc, conf, priors, N, P, C, a)
	if want[0] < 0 {
		t.Fatal("the case selects nothing")
	}
	n := irtest.New("det")
	l := n.Parameter("loc", irmodel.F32, fmt.Sprintf("?,%d", P*4))
	cf := n.Parameter("conf", irmodel.F32, fmt.Sprintf("?,%d", P*C))
	pr := n.Parameter("priors", irmodel.F32, fmt.Sprintf("1,2,%d", P*5))
	do := n.Op("DetectionOutput", "opset8", map[string]string{"code_type": "caffe.PriorBoxParameter.CENTER_SIZE", "background_label_id": "0", "keep_top_k": "4",
		"nms_threshold": "0.4", "confidence_threshold": "0.1", "normalized": "false", "input_width": fmt.Sprint(IW), "input_height": fmt.Sprint(IH)},
		[]irtest.Out{l, cf, pr}, irtest.Port{Type: irmodel.F32, Shape: "1,1,4,7", Names: "det"})
	n.Result(do[0], "out")
	res := run(t, n, f32("loc", []int64{N, P * 4}, loc...), f32("conf", []int64{N, P * C}, conf...), f32("priors", []int64{1, 2, P * 5}, pixPriors...))["det"]
	near(t, "detections", res.F32(), want, 1e-5)
}
