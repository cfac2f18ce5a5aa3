package irtoonnx

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// regionYoloRef applies RegionYolo's activations to x [N, R*K, H, W]
// (K = coords + 1 + classes) as the spec's YOLO9000 reading gives them.
func regionYoloRef(x []float32, N, R, coords, classes, H, W int, softmax bool) []float32 {
	K := coords + 1 + classes
	out := slices.Clone(x)
	sig := func(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }
	at := func(n, r, j, h, w int) int { return (((n*R+r)*K+j)*H+h)*W + w }
	for n := range N {
		for r := range R {
			for h := range H {
				for w := range W {
					for j := range K {
						if j < 2 || j == coords || (j > coords && !softmax) {
							out[at(n, r, j, h, w)] = sig(x[at(n, r, j, h, w)])
						}
					}
					if softmax {
						var m float64 = math.Inf(-1)
						for j := coords + 1; j < K; j++ {
							m = max(m, float64(x[at(n, r, j, h, w)]))
						}
						var sum float64
						for j := coords + 1; j < K; j++ {
							sum += math.Exp(float64(x[at(n, r, j, h, w)]) - m)
						}
						for j := coords + 1; j < K; j++ {
							out[at(n, r, j, h, w)] = float32(math.Exp(float64(x[at(n, r, j, h, w)])-m) / sum)
						}
					}
				}
			}
		}
	}
	return out
}

func ramp(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((i*37)%23-11) * scale
	}
	return out
}

// TestRegionYoloHeads runs a YOLO v3-style head (do_softmax 0, mask) and a
// YOLO v2-style head (do_softmax 1, flattened) with a dynamic batch.
func TestRegionYoloHeads(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		attrs                map[string]string
		regions, coords, cls int
		softmax              bool
		outShape             string
		want                 []int64
	}{
		{"v3 mask", map[string]string{"anchors": "10,14,23,27,37,58", "axis": "1", "end_axis": "3", "classes": "3", "coords": "4", "do_softmax": "0", "mask": "0,1,2", "num": "6"},
			3, 4, 3, false, "?,24,2,3", []int64{2, 24, 2, 3}},
		{"v2 softmax flat", map[string]string{"axis": "1", "end_axis": "3", "classes": "3", "coords": "4", "do_softmax": "1", "num": "2"},
			2, 4, 3, true, "?,96", []int64{2, 96}},
		{"v2 softmax negative axes", map[string]string{"axis": "-3", "end_axis": "-2", "classes": "5", "coords": "4", "do_softmax": "true", "num": "2"},
			2, 4, 5, true, "?,40,3", []int64{2, 40, 3}},
		{"six coords", map[string]string{"axis": "1", "end_axis": "3", "classes": "2", "coords": "6", "do_softmax": "0", "mask": "1,2", "num": "3"},
			2, 6, 2, false, "?,18,2,3", []int64{2, 18, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.regions * (tc.coords + 1 + tc.cls)
			n := irtest.New("yolo")
			x := n.Parameter("x", irmodel.F32, fmt.Sprintf("?,%d,2,3", c))
			y := n.Op("RegionYolo", "opset1", tc.attrs, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: tc.outShape, Names: "y"})
			n.Result(y[0], "out")
			in := ramp(2*c*6, 0.37)
			res := run(t, n, f32("x", []int64{2, int64(c), 2, 3}, in...))["y"]
			if !slices.Equal(res.shape, tc.want) {
				t.Fatalf("shape %v, want %v", res.shape, tc.want)
			}
			near(t, "RegionYolo", res.F32(), regionYoloRef(in, 2, tc.regions, tc.coords, tc.cls, 2, 3, tc.softmax), 1e-5)
		})
	}
}

// reorgYoloRef is the reorg loop of the spec's reference (darknet): the
// input read as [N, C/s², H*s, W*s], written in [N, C, H, W] order.
func reorgYoloRef(x []float32, N, C, H, W, s int) []float32 {
	out := make([]float32, len(x))
	oc, oh, ow := C/(s*s), H*s, W*s
	for n := range N {
		for c := range C {
			for h := range H {
				for w := range W {
					off := c / oc
					src := ((n*oc+c%oc)*oh+h*s+off/s)*ow + w*s + off%s
					out[((n*C+c)*H+h)*W+w] = x[src]
				}
			}
		}
	}
	return out
}

func TestReorgYolo(t *testing.T) {
	for _, s := range []int{2, 3} {
		t.Run(fmt.Sprint("stride ", s), func(t *testing.T) {
			C, H, W := 2*s*s, 2*s, 3*s
			n := irtest.New("reorg")
			x := n.Parameter("x", irmodel.F32, fmt.Sprintf("?,%d,%d,%d", C, H, W))
			y := n.Op("ReorgYolo", "opset1", map[string]string{"stride": fmt.Sprint(s)}, []irtest.Out{x},
				irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("?,%d,%d,%d", C*s*s, H/s, W/s), Names: "y"})
			n.Result(y[0], "out")
			in := ramp(2*C*H*W, 1)
			for i := range in {
				in[i] = float32(i)
			}
			res := run(t, n, f32("x", []int64{2, int64(C), int64(H), int64(W)}, in...))["y"]
			if want := []int64{2, int64(C * s * s), int64(H / s), int64(W / s)}; !slices.Equal(res.shape, want) {
				t.Fatalf("shape %v, want %v", res.shape, want)
			}
			near(t, "ReorgYolo", res.F32(), reorgYoloRef(in, 2, C, H, W, s), 0)
		})
	}
}
