package irtoonnx

import (
	"fmt"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// refPad maps each output coordinate to the input as the spec does:
// i = o - pads_begin, then per mode outside [0, D).
func refPad(x []float32, xs, pb, pe []int64, mode string, value float32) ([]float32, []int64) {
	os := make([]int64, len(xs))
	for i := range xs {
		os[i] = xs[i] + pb[i] + pe[i]
	}
	out := make([]float32, refNum(os))
	xst := refStrides(xs)
	for o := range out {
		oi := refUnravel(int64(o), os)
		var off int64
		inside := true
		for k := range xs {
			i, d := oi[k]-pb[k], xs[k]
			if i < 0 || i >= d {
				switch mode {
				case "constant":
					inside = false
				case "edge":
					i = min(max(i, 0), d-1)
				case "reflect":
					if i < 0 {
						i = -i
					} else {
						i = 2*(d-1) - i
					}
				case "symmetric":
					if i < 0 {
						i = -i - 1
					} else {
						i = 2*d - 1 - i
					}
				}
			}
			off += i * xst[k]
		}
		if inside {
			out[o] = x[off]
		} else {
			out[o] = value
		}
	}
	return out, os
}

func TestPad(t *testing.T) {
	xs := []int64{2, 3, 4}
	x := refSeq(refNum(xs))
	for _, ver := range []string{"opset1", "opset12"} {
		for _, mode := range []string{"constant", "edge", "reflect", "symmetric"} {
			for _, p := range [][2][]int64{{{0, 2, 1}, {1, 1, 3}}, {{1, -1, 2}, {0, 2, -2}}} {
				if ver == "opset1" && p[0][1] < 0 {
					continue
				}
				t.Run(fmt.Sprint(ver, mode, p), func(t *testing.T) {
					want, os := refPad(x, xs, p[0], p[1], mode, 2.5)
					n := irtest.New("pad")
					px := n.Parameter("x", irmodel.F32, "?,3,4")
					ins := []irtest.Out{px, n.I64([]int64{3}, p[0]...), n.I32([]int64{3}, int32(p[1][0]), int32(p[1][1]), int32(p[1][2]))}
					if mode == "constant" {
						ins = append(ins, n.F32(nil, 2.5))
					}
					y := n.Op("Pad", ver, map[string]string{"pad_mode": mode}, ins, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os), Names: "y"})
					n.Result(y[0], "r")
					near(t, "Pad", run(t, n, f32("x", xs, x...))["y"].F32(), want, 0)
				})
			}
		}
	}
	// computed pads go to ONNX Pad as they are.
	want, os := refPad(x, xs, []int64{0, 1, 0}, []int64{1, 0, 2}, "reflect", 0)
	n := irtest.New("pad")
	px := n.Parameter("x", irmodel.F32, "2,3,4")
	pb := n.Parameter("pb", irmodel.I64, "3")
	y := n.Op("Pad", "opset12", map[string]string{"pad_mode": "reflect"}, []irtest.Out{px, pb, n.I64([]int64{3}, 1, 0, 2)}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os), Names: "y"})
	n.Result(y[0], "r")
	near(t, "Pad computed", run(t, n, f32("x", xs, x...), i64("pb", []int64{3}, 0, 1, 0))["y"].F32(), want, 0)
}
