package irtoonnx

import (
	"fmt"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// roiAlignRef is ROIAlign from the spec: box corners mapped by
// aligned_mode, bins sampled on a grid of sampling_ratio (or
// ceil(size/pooled)) points, each bilinearly interpolated (0 outside
// [-1, size], edges clamped), averaged or (max) the largest, from 0.
func roiAlignRef(x []float32, C, H, W int, rois []float32, batch []int, ph, pw, sr int, scale float64, aligned string, maxMode bool) []float32 {
	var out []float32
	for r := range batch {
		co := make([]float64, 4)
		for i := range co {
			v := float64(rois[4*r+i])
			switch aligned {
			case "asymmetric":
				co[i] = v * scale
			case "half_pixel_for_nn":
				co[i] = v*scale - 0.5
			case "half_pixel":
				co[i] = (v+0.5)*scale - 0.5
			}
		}
		rw, rh := co[2]-co[0], co[3]-co[1]
		if aligned == "asymmetric" {
			rw, rh = max(rw, 1), max(rh, 1)
		}
		bh, bw := rh/float64(ph), rw/float64(pw)
		gh, gw := sr, sr
		if sr == 0 {
			gh, gw = int(math.Ceil(rh/float64(ph))), int(math.Ceil(rw/float64(pw)))
		}
		at := func(c, y, xx int) float64 { return float64(x[((batch[r]*C+c)*H+y)*W+xx]) }
		bil := func(c int, y, xx float64) float64 {
			if y < -1 || y > float64(H) || xx < -1 || xx > float64(W) {
				return 0
			}
			y, xx = max(y, 0), max(xx, 0)
			y0, x0 := int(y), int(xx)
			y1, x1 := y0+1, x0+1
			if y0 >= H-1 {
				y0, y1, y = H-1, H-1, float64(H-1)
			}
			if x0 >= W-1 {
				x0, x1, xx = W-1, W-1, float64(W-1)
			}
			ly, lx := y-float64(y0), xx-float64(x0)
			return (1-ly)*(1-lx)*at(c, y0, x0) + (1-ly)*lx*at(c, y0, x1) + ly*(1-lx)*at(c, y1, x0) + ly*lx*at(c, y1, x1)
		}
		for c := range C {
			for i := range ph {
				for j := range pw {
					var sum float64
					for iy := range gh {
						for ix := range gw {
							y := co[1] + float64(i)*bh + (float64(iy)+0.5)*bh/float64(gh)
							xx := co[0] + float64(j)*bw + (float64(ix)+0.5)*bw/float64(gw)
							if maxMode {
								sum = max(sum, bil(c, y, xx))
							} else {
								sum += bil(c, y, xx)
							}
						}
					}
					if maxMode {
						out = append(out, float32(sum))
					} else {
						out = append(out, float32(sum/float64(gh*gw)))
					}
				}
			}
		}
	}
	return out
}

func TestROIAlign(t *testing.T) {
	const C, H, W = 2, 6, 7
	x := make([]float32, 2*C*H*W)
	for i := range x {
		x[i] = float32((i*13)%17) - 5
	}
	rois := []float32{0, 0, 10, 8, 2.5, 3, 6, 11, -2, -1, 3, 4, 6, 4, 6.2, 4.1}
	batch := []int{0, 1, 1, 0}
	for _, tc := range []struct {
		ver, aligned string
		sr           int
		scale        float64
		maxMode      bool
	}{
		{"opset3", "asymmetric", 2, 0.5, false},
		{"opset3", "asymmetric", 0, 0.5, false},
		{"opset9", "asymmetric", 0, 1, false},
		{"opset9", "half_pixel_for_nn", 2, 0.5, false},
		{"opset9", "half_pixel", 0, 0.5, false},
		{"opset9", "half_pixel", 3, 1, false},
		{"opset3", "asymmetric", 2, 0.5, true},
		{"opset9", "half_pixel", 3, 0.5, true},
		{"opset9", "half_pixel_for_nn", 1, 1, true},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			n := irtest.New("roialign")
			d := n.Parameter("x", irmodel.F32, fmt.Sprintf("?,%d,%d,%d", C, H, W))
			r := n.Parameter("rois", irmodel.F32, "?,4")
			b := n.Parameter("idx", irmodel.I32, "?")
			attrs := map[string]string{"pooled_h": "3", "pooled_w": "2", "sampling_ratio": fmt.Sprint(tc.sr), "spatial_scale": fmt.Sprint(tc.scale), "mode": "avg"}
			if tc.maxMode {
				attrs["mode"] = "max"
			}
			if tc.ver == "opset9" {
				attrs["aligned_mode"] = tc.aligned
			}
			y := n.Op("ROIAlign", tc.ver, attrs, []irtest.Out{d, r, b}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("?,%d,3,2", C), Names: "y"})
			n.Result(y[0], "out")
			res := run(t, n, f32("x", []int64{2, C, H, W}, x...), f32("rois", []int64{4, 4}, rois...), i32("idx", []int64{4}, 0, 1, 1, 0))
			near(t, "ROIAlign", res["y"].F32(), roiAlignRef(x, C, H, W, rois, batch, 3, 2, tc.sr, tc.scale, tc.aligned, tc.maxMode), 1e-5)
		})
	}
}

// roiPoolMaxRef is ROIPooling (method max) from the spec: box corners
// scaled and rounded, the box split into pooled_h x pooled_w bins (floor
// of the start, ceil of the end), each bin's maximum, 0 for an empty bin.
func roiPoolMaxRef(x []float32, C, H, W int, rois []float32, ph, pw int, scale float64) []float32 {
	var out []float32
	for r := 0; r < len(rois)/5; r++ {
		b := int(rois[5*r])
		x1, y1 := int(math.Round(float64(rois[5*r+1])*scale)), int(math.Round(float64(rois[5*r+2])*scale))
		x2, y2 := int(math.Round(float64(rois[5*r+3])*scale)), int(math.Round(float64(rois[5*r+4])*scale))
		rh, rw := max(y2-y1+1, 1), max(x2-x1+1, 1)
		bh, bw := float64(rh)/float64(ph), float64(rw)/float64(pw)
		for c := range C {
			for i := range ph {
				for j := range pw {
					hs := min(max(int(math.Floor(float64(i)*bh))+y1, 0), H)
					he := min(max(int(math.Ceil(float64(i+1)*bh))+y1, 0), H)
					ws := min(max(int(math.Floor(float64(j)*bw))+x1, 0), W)
					we := min(max(int(math.Ceil(float64(j+1)*bw))+x1, 0), W)
					m := float32(math.Inf(-1))
					if he <= hs || we <= ws {
						m = 0
					}
					for y := hs; y < he; y++ {
						for xx := ws; xx < we; xx++ {
							m = max(m, x[((b*C+c)*H+y)*W+xx])
						}
					}
					out = append(out, m)
				}
			}
		}
	}
	return out
}

func TestROIPoolingMax(t *testing.T) {
	const C, H, W = 2, 6, 7
	x := make([]float32, 2*C*H*W)
	for i := range x {
		x[i] = float32((i*13)%17) - 5
	}
	rois := []float32{0, 0, 0, 12, 10, 1, 3, 2, 9, 11, 1, 1, 1, 2, 2, 0, 10, 8, 14, 12}
	n := irtest.New("roipool")
	d := n.Parameter("x", irmodel.F32, fmt.Sprintf("2,%d,%d,%d", C, H, W))
	r := n.Parameter("rois", irmodel.F32, "?,5")
	y := n.Op("ROIPooling", "opset1", map[string]string{"pooled_h": "2", "pooled_w": "3", "spatial_scale": "0.5", "method": "max"},
		[]irtest.Out{d, r}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("?,%d,2,3", C), Names: "y"})
	n.Result(y[0], "out")
	res := run(t, n, f32("x", []int64{2, C, H, W}, x...), f32("rois", []int64{4, 5}, rois...))
	near(t, "ROIPooling", res["y"].F32(), roiPoolMaxRef(x, C, H, W, rois, 2, 3, 0.5), 0)
}
