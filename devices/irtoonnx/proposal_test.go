package irtoonnx

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

type proposalCfg struct {
	base, stride, minSize, pre, post int
	nms                              float32
	ratios, scales                   []float32
	clipBefore, clipAfter, normalize bool
}

// proposalRef is Proposal (Caffe form) as the spec's steps describe it,
// with the +1 pixel convention: anchors from base_size, ratios (rounded)
// and scales; deltas applied; boxes clipped; small boxes' scores zeroed;
// the pre_nms_topn best (stable by index on ties) through greedy NMS up to
// post_nms_topn; rows per image padded with zeros and a -1.
func proposalRef(probs, deltas, img []float32, N, A, H, W int, p proposalCfg) (rois, scores []float32) {
	type box struct{ x0, y0, x1, y1, s float32 }
	var anchors [][4]float32
	area := float32(p.base * p.base)
	ctr := 0.5 * (float32(p.base) - 1)
	for _, r := range p.ratios {
		rw := float32(math.Round(math.Sqrt(float64(area / r))))
		rh := float32(math.Round(float64(rw * r)))
		for _, s := range p.scales {
			anchors = append(anchors, [4]float32{ctr - 0.5*(rw*s-1), ctr - 0.5*(rh*s-1), ctr + 0.5*(rw*s-1), ctr + 0.5*(rh*s-1)})
		}
	}
	imgH, imgW, sh := img[0], img[1], img[2]
	sw := sh
	if len(img) == 4 {
		sw = img[3]
	}
	for b := range N {
		var props []box
		for h := range H {
			for w := range W {
				for a := range A {
					an := anchors[a]
					x, y := float32(w*p.stride), float32(h*p.stride)
					ax0, ay0, ax1, ay1 := x+an[0], y+an[1], x+an[2], y+an[3]
					ww, hh := ax1-ax0+1, ay1-ay0+1
					cx, cy := ax0+0.5*ww, ay0+0.5*hh
					dl := func(k int) float32 { return deltas[((b*4*A+a*4+k)*H+h)*W+w] }
					pcx, pcy := dl(0)*ww+cx, dl(1)*hh+cy
					pw, ph := float32(math.Exp(float64(dl(2))))*ww, float32(math.Exp(float64(dl(3))))*hh
					bx := box{pcx - 0.5*pw, pcy - 0.5*ph, pcx + 0.5*pw, pcy + 0.5*ph, probs[((b*2*A+A+a)*H+h)*W+w]}
					if p.clipBefore {
						bx.x0, bx.x1 = min(max(bx.x0, 0), imgW-1), min(max(bx.x1, 0), imgW-1)
						bx.y0, bx.y1 = min(max(bx.y0, 0), imgH-1), min(max(bx.y1, 0), imgH-1)
					}
					if !(float32(p.minSize)*sw <= bx.x1-bx.x0+1 && float32(p.minSize)*sh <= bx.y1-bx.y0+1) {
						bx.s = 0
					}
					props = append(props, bx)
				}
			}
		}
		sort.SliceStable(props, func(i, j int) bool { return props[i].s > props[j].s })
		props = props[:min(p.pre, len(props))]
		iou := func(i, j box) float32 {
			if !(i.x0 <= j.x1 && i.y0 <= j.y1 && j.x0 <= i.x1 && j.y0 <= i.y1) {
				return 0
			}
			iw := max(0, min(i.x1, j.x1)-max(i.x0, j.x0)+1)
			ih := max(0, min(i.y1, j.y1)-max(i.y0, j.y0)+1)
			in := iw * ih
			return in / ((i.x1-i.x0+1)*(i.y1-i.y0+1) + (j.x1-j.x0+1)*(j.y1-j.y0+1) - in)
		}
		var kept []box
		for _, c := range props {
			if len(kept) == p.post {
				break
			}
			ok := true
			for _, k := range kept {
				if iou(k, c) > p.nms {
					ok = false
				}
			}
			if ok {
				kept = append(kept, c)
			}
		}
		for _, k := range kept {
			if p.clipAfter {
				k.x0, k.x1 = min(max(k.x0, 0), imgW), min(max(k.x1, 0), imgW)
				k.y0, k.y1 = min(max(k.y0, 0), imgH), min(max(k.y1, 0), imgH)
			}
			if p.normalize {
				k.x0, k.x1, k.y0, k.y1 = k.x0/imgW, k.x1/imgW, k.y0/imgH, k.y1/imgH
			}
			rois = append(rois, float32(b), k.x0, k.y0, k.x1, k.y1)
			scores = append(scores, k.s)
		}
		for i := len(kept); i < p.post; i++ {
			first := float32(0)
			if i == len(kept) {
				first = -1
			}
			rois = append(rois, first, 0, 0, 0, 0)
			scores = append(scores, 0)
		}
	}
	return rois, scores
}

func TestProposal(t *testing.T) {
	const N, H, W = 2, 3, 4
	ratios, scales := []float32{0.5, 1, 2}, []float32{1, 2}
	A := len(ratios) * len(scales)
	seed := uint32(3)
	rnd := func() float32 {
		seed = seed*1664525 + 1013904223
		return float32(seed>>8) / float32(1<<24)
	}
	probs := make([]float32, N*2*A*H*W)
	for i := range probs {
		probs[i] = rnd()
	}
	deltas := make([]float32, N*4*A*H*W)
	for i := range deltas {
		deltas[i] = (rnd() - 0.5) * 0.6
	}
	for _, tc := range []struct {
		name  string
		ver   string
		img   []float32
		attrs map[string]string
		cfg   proposalCfg
	}{
		{"v4 defaults", "opset4", []float32{48, 64, 1},
			map[string]string{"base_size": "16", "feat_stride": "16", "min_size": "12", "pre_nms_topn": "40", "post_nms_topn": "12", "nms_thresh": "0.6", "ratio": "0.5,1,2", "scale": "1,2"},
			proposalCfg{16, 16, 12, 40, 12, 0.6, ratios, scales, true, false, false}},
		{"v4 scale hw, no clip, few", "opset4", []float32{40, 56, 1.5, 0.5},
			map[string]string{"base_size": "16", "feat_stride": "16", "min_size": "10", "pre_nms_topn": "20", "post_nms_topn": "30", "nms_thresh": "0.5", "ratio": "0.5,1,2", "scale": "1,2", "clip_before_nms": "false"},
			proposalCfg{16, 16, 10, 20, 30, 0.5, ratios, scales, false, false, false}},
		{"v1 normalize clip after", "opset1", []float32{48, 64, 1},
			map[string]string{"base_size": "16", "feat_stride": "16", "min_size": "8", "pre_nms_topn": "100", "post_nms_topn": "8", "nms_thresh": "0.7", "ratio": "0.5,1,2", "scale": "1,2", "clip_after_nms": "true", "normalize": "true"},
			proposalCfg{16, 16, 8, 100, 8, 0.7, ratios, scales, true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := irtest.New("proposal")
			pr := n.Parameter("probs", irmodel.F32, fmt.Sprintf("?,%d,%d,%d", 2*A, H, W))
			dl := n.Parameter("deltas", irmodel.F32, fmt.Sprintf("?,%d,%d,%d", 4*A, H, W))
			im := n.Parameter("img", irmodel.F32, fmt.Sprint(len(tc.img)))
			ports := []irtest.Port{{Type: irmodel.F32, Shape: "?,5", Names: "rois"}}
			if tc.ver == "opset4" {
				ports = append(ports, irtest.Port{Type: irmodel.F32, Shape: "?", Names: "scores"})
			}
			outs := n.Op("Proposal", tc.ver, tc.attrs, []irtest.Out{pr, dl, im}, ports...)
			for i, o := range outs {
				n.Result(o, fmt.Sprint("r", i))
			}
			res := run(t, n, f32("probs", []int64{N, int64(2 * A), H, W}, probs...), f32("deltas", []int64{N, int64(4 * A), H, W}, deltas...),
				f32("img", []int64{int64(len(tc.img))}, tc.img...))
			rois, scores := proposalRef(probs, deltas, tc.img, N, A, H, W, tc.cfg)
			near(t, "rois", res["rois"].F32(), rois, 1e-4)
			if tc.ver == "opset4" {
				near(t, "scores", res["scores"].F32(), scores, 1e-6)
			}
		})
	}
}
