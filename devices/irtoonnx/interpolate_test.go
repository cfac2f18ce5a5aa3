package irtoonnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// refCoord is the spec's GetOriginalCoordinate.
func refCoord(mode string, x, scale float64, outLen, inLen int64) float64 {
	switch mode {
	case "pytorch_half_pixel":
		if outLen > 1 {
			return (x+0.5)/scale - 0.5
		}
		return 0
	case "asymmetric":
		return x / scale
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	case "align_corners":
		if outLen == 1 {
			return 0
		}
		return x * float64(inLen-1) / float64(outLen-1)
	}
	return (x+0.5)/scale - 0.5
}

// refNearest is the spec's GetNearestPixel.
func refNearest(mode string, v float64, down bool) int64 {
	switch mode {
	case "round_prefer_ceil":
		return int64(math.Round(v))
	case "floor":
		return int64(math.Floor(v))
	case "ceil":
		return int64(math.Ceil(v))
	case "simple":
		if down {
			return int64(math.Ceil(v))
		}
		return int64(v)
	}
	if v == math.Floor(v)+0.5 {
		return int64(math.Floor(v))
	}
	return int64(math.Round(v))
}

// refInterp is the spec's nearest, linear_onnx (as separable linear with
// clamped coordinates) and cubic on a 4-D input resized on axes 2 and 3.
func refInterp(x []float32, xs []int64, os []int64, scales []float64, mode, coord, nearest string, a float64) []float32 {
	out := make([]float32, refNum(os))
	xst := refStrides(xs)
	for o := range out {
		oi := refUnravel(int64(o), os)
		base := oi[0]*xst[0] + oi[1]*xst[1]
		ch := [2]float64{}
		for k := range 2 {
			ch[k] = refCoord(coord, float64(oi[2+k]), scales[k], os[2+k], xs[2+k])
		}
		at := func(h, w int64) float64 {
			h, w = min(max(h, 0), xs[2]-1), min(max(w, 0), xs[3]-1)
			return float64(x[base+h*xst[2]+w])
		}
		switch mode {
		case "nearest":
			out[o] = float32(at(refNearest(nearest, ch[0], scales[0] < 1), refNearest(nearest, ch[1], scales[1] < 1)))
		case "linear_onnx":
			var idx [2][2]int64
			var wt [2][2]float64
			for k := range 2 {
				c := min(max(ch[k], 0), float64(xs[2+k]-1))
				i1 := int64(c)
				i2 := min(i1+1, xs[2+k]-1)
				idx[k] = [2]int64{i1, i2}
				wt[k] = [2]float64{math.Abs(c - float64(i2)), math.Abs(c - float64(i1))}
				if i1 == i2 {
					wt[k] = [2]float64{0.5, 0.5}
				}
			}
			var s float64
			for p := range 2 {
				for q := range 2 {
					s += wt[0][p] * wt[1][q] * at(idx[0][p], idx[1][q])
				}
			}
			out[o] = float32(s)
		case "cubic":
			var coef [2][4]float64
			var i0 [2]int64
			for k := range 2 {
				f := math.Floor(ch[k])
				i0[k] = int64(f)
				s := math.Abs(ch[k] - f)
				coef[k] = [4]float64{a * (s - 1) * (s - 1) * s, ((a+2)*s-(a+3))*s*s + 1, (((-a-2)*s+(2*a+3))*s - a) * s, -a * s * s * (s - 1)}
			}
			var s float64
			for p := range 4 {
				for q := range 4 {
					s += coef[0][p] * coef[1][q] * at(i0[0]+int64(p)-1, i0[1]+int64(q)-1)
				}
			}
			out[o] = float32(s)
		}
	}
	return out
}

func TestInterpolate(t *testing.T) {
	xs := []int64{1, 2, 4, 6}
	x := refSeq(refNum(xs))
	type tc struct {
		mode, coord, nearest string
		out                  []int64
		useScales            bool
	}
	var cases []tc
	for _, nm := range []string{"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"} {
		for _, coord := range []string{"half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners", "tf_half_pixel_for_nn"} {
			cases = append(cases, tc{"nearest", coord, nm, []int64{7, 3}, false}, tc{"nearest", coord, nm, []int64{2, 9}, true})
		}
	}
	for _, m := range []string{"linear_onnx", "cubic", "linear"} {
		for _, coord := range []string{"half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners"} {
			cases = append(cases, tc{m, coord, "", []int64{7, 3}, false}, tc{m, coord, "", []int64{3, 12}, true})
		}
	}
	for _, ver := range []string{"opset4", "opset11"} {
		for _, c := range cases {
			t.Run(fmt.Sprint(ver, c), func(t *testing.T) {
				scales := []float64{float64(float32(c.out[0]) / 4), float64(float32(c.out[1]) / 6)}
				if c.useScales {
					scales = []float64{float64(c.out[0]) / 4, float64(c.out[1]) / 6}
				}
				os := []int64{1, 2, c.out[0], c.out[1]}
				refMode := c.mode
				if refMode == "linear" {
					refMode = "linear_onnx" // the same without antialias
				}
				want := refInterp(x, xs, os, scales, refMode, c.coord, c.nearest, -0.75)
				n := irtest.New("interp")
				px := n.Parameter("x", irmodel.F32, "?,2,4,6")
				attrs := map[string]string{"mode": c.mode, "coordinate_transformation_mode": c.coord, "shape_calculation_mode": "sizes"}
				if c.nearest != "" {
					attrs["nearest_mode"] = c.nearest
				}
				if c.useScales {
					attrs["shape_calculation_mode"] = "scales"
				}
				sizes := n.I32([]int64{2}, int32(c.out[0]), int32(c.out[1]))
				sc := n.F32([]int64{2}, float32(scales[0]), float32(scales[1]))
				axes := n.I64([]int64{2}, -2, 3)
				var ins []irtest.Out
				switch {
				case ver == "opset4":
					ins = []irtest.Out{px, sizes, sc, axes}
				case c.useScales:
					ins = []irtest.Out{px, sc, axes}
				default:
					ins = []irtest.Out{px, sizes, axes}
				}
				y := n.Op("Interpolate", ver, attrs, ins, irtest.Port{Type: irmodel.F32, Shape: "-1,2," + dimsStr(c.out), Names: "y"})
				n.Result(y[0], "r")
				out := run(t, n, f32("x", xs, x...))["y"]
				near(t, "Interpolate", out.F32(), want, 1e-5)
			})
		}
	}
}

func TestInterpolate1(t *testing.T) {
	xs := []int64{1, 1, 4, 6}
	x := refSeq(refNum(xs))
	for _, tc := range []struct {
		mode  string
		align bool
		coord string
	}{{"nearest", false, "asymmetric"}, {"nearest", true, "align_corners"}, {"linear", false, "asymmetric"}, {"linear", true, "align_corners"}, {"cubic", false, "asymmetric"}} {
		out := []int64{3, 9}
		scales := []float64{float64(float32(3) / 4), float64(float32(9) / 6)}
		refMode := map[string]string{"nearest": "nearest", "linear": "linear_onnx", "cubic": "cubic"}[tc.mode]
		want := refInterp(x, xs, []int64{1, 1, 3, 9}, scales, refMode, tc.coord, "simple", -0.75)
		n := irtest.New("interp1")
		px := n.Parameter("x", irmodel.F32, "1,1,4,6")
		y := n.Op("Interpolate", "opset1", map[string]string{"axes": "2,3", "mode": tc.mode, "align_corners": fmt.Sprint(tc.align)},
			[]irtest.Out{px, n.I64([]int64{2}, out...)}, irtest.Port{Type: irmodel.F32, Shape: "1,1,3,9", Names: "y"})
		n.Result(y[0], "r")
		near(t, fmt.Sprint("Interpolate-1", tc), run(t, n, f32("x", xs, x...))["y"].F32(), want, 1e-5)
	}
	n := irtest.New("interp1")
	px := n.Parameter("x", irmodel.F32, "1,1,4,6")
	y := n.Op("Interpolate", "opset1", map[string]string{"axes": "2,3", "mode": "area"}, []irtest.Out{px, n.I64([]int64{2}, 2, 3)}, irtest.Port{Type: irmodel.F32, Shape: "1,1,2,3"})
	n.Result(y[0], "r")
	xm, bin := n.Bytes()
	m, err := irmodel.Parse(xm, bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Translate(m, Options{}); err == nil || !strings.Contains(err.Error(), `mode="area"`) {
		t.Fatalf("mode area: %v", err)
	}
}

func TestInterpolate1BadPads(t *testing.T) {
	// A pads attribute that is not a list of integers is an error, not
	// "no padding".
	for _, attr := range []string{"pads_begin", "pads_end"} {
		n := irtest.New("interp1")
		px := n.Parameter("x", irmodel.F32, "1,1,4,6")
		y := n.Op("Interpolate", "opset1", map[string]string{"axes": "2,3", "mode": "nearest", attr: "0,0,one,0"},
			[]irtest.Out{px, n.I64([]int64{2}, 8, 12)}, irtest.Port{Type: irmodel.F32, Shape: "1,1,8,12"})
		n.Result(y[0], "r")
		if e := opsTranslateErr(t, n); !strings.Contains(e, attr) {
			t.Errorf("%s=0,0,one,0: %q", attr, e)
		}
	}
}
