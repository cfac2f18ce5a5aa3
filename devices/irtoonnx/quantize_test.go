package irtoonnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// fqRef is FakeQuantize-1's formula in float32, one rounding per step as
// the translated graph computes it (explicit conversions keep Go from
// fusing multiply-adds).
func fqRef(x, il, ih, ol, oh float32, levels int) float32 {
	if x <= min(il, ih) {
		return ol
	}
	if x > max(il, ih) {
		return oh
	}
	n := float32(levels - 1)
	q := float32(x-il) / float32(ih-il)
	q = float32(q * n)
	q = float32(math.RoundToEven(float64(q)))
	q = float32(q / n)
	q = float32(q * float32(oh-ol))
	return float32(q + ol)
}

// fqNet is FakeQuantize(x [?,3,H,W]) with constant limits of the given
// shapes.
func fqNet(levels int, attrs map[string]string, shape string, limDims [4][]int64, lims [4][]float32) *irtest.Net {
	a := map[string]string{"levels": fmt.Sprint(levels)}
	for k, v := range attrs {
		a[k] = v
	}
	return opsNet("FakeQuantize", "opset1", a, irtest.Port{Type: irmodel.F32, Shape: shape}, func(n *irtest.Net) []irtest.Out {
		ins := []irtest.Out{n.Parameter("x", irmodel.F32, shape)}
		for i := range 4 {
			ins = append(ins, n.F32(limDims[i], lims[i]...))
		}
		return ins
	})
}

func TestFakeQuantizeINT8Exact(t *testing.T) {
	// x [2,3,4,5]: values spread over and beyond each channel's range,
	// with the range ends themselves.
	const h, w = 4, 5
	x := make([]float32, 2*3*h*w)
	il := []float32{-1.27, -2, 0}
	ih := []float32{1.28, 2, 5.1}
	for i := range x {
		c := i / (h * w) % 3
		f := float32(math.Sin(float64(i)*1.7)) * 1.2
		x[i] = il[c] + (ih[c]-il[c])*(f+1)/2
	}
	x[0], x[1], x[21], x[22] = -1.27, 1.28, -2, 2.0000002
	x[41] = 5.1
	x[2], x[3], x[4], x[5] = 0.5, 1.5, 2.5, 3.5 // ties where levels-1 = input range

	perChannel := []int64{1, 3, 1, 1}
	cases := []struct {
		name   string
		levels int
		dims   [4][]int64
		il, ih []float32
		ol, oh []float32
	}{
		{name: "activations u8 (256 levels, per-channel in = out)", levels: 256,
			dims: [4][]int64{perChannel, perChannel, perChannel, perChannel}, il: il, ih: ih, ol: il, oh: ih},
		{name: "weights i8 (255 levels, scalar in, per-channel out)", levels: 255,
			dims: [4][]int64{{}, {}, perChannel, perChannel}, il: []float32{-0.9}, ih: []float32{0.9},
			ol: []float32{-127, -12.7, -1.27}, oh: []float32{127, 12.7, 1.27}},
		{name: "integer outputs -128..127", levels: 256,
			dims: [4][]int64{perChannel, perChannel, {1}, {1}}, il: il, ih: ih, ol: []float32{-128}, oh: []float32{127}},
		{name: "ties round to even", levels: 5,
			dims: [4][]int64{nil, nil, nil, nil}, il: []float32{0}, ih: []float32{4}, ol: []float32{0}, oh: []float32{4}},
		{name: "reversed input range", levels: 16,
			dims: [4][]int64{{1}, {1}, {1}, {1}}, il: []float32{1}, ih: []float32{-1}, ol: []float32{0}, oh: []float32{15}},
		{name: "binarization (input_low = input_high)", levels: 2,
			dims: [4][]int64{perChannel, perChannel, {}, {}}, il: []float32{0, 0.5, 2}, ih: []float32{0, 0.5, 2}, ol: []float32{-1}, oh: []float32{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pick := func(v []float32, i int) float32 {
				if len(v) == 1 {
					return v[0]
				}
				return v[i/(h*w)%3]
			}
			for k, d := range tc.dims {
				if len(d) == 0 {
					tc.dims[k] = nil
				}
			}
			n := fqNet(tc.levels, nil, "?,3,4,5", tc.dims, [4][]float32{tc.il, tc.ih, tc.ol, tc.oh})
			out := run(t, n, f32("x", []int64{2, 3, h, w}, x...))["y"]
			got := out.F32()
			if len(got) != len(x) {
				t.Fatalf("%d values", len(got))
			}
			for i := range x {
				want := fqRef(x[i], pick(tc.il, i), pick(tc.ih, i), pick(tc.ol, i), pick(tc.oh, i), tc.levels)
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("x[%d] = %v: got %v (%08x), want %v (%08x)", i, x[i], got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
				}
			}
		})
	}
}

func TestFakeQuantizeRefusesPDPDBroadcast(t *testing.T) {
	one := []int64{1}
	n := fqNet(256, map[string]string{"auto_broadcast": "pdpd"}, "2,3", [4][]int64{one, one, one, one}, [4][]float32{{0}, {1}, {0}, {1}})
	if e := opsTranslateErr(t, n); !strings.Contains(e, `auto_broadcast="pdpd"`) {
		t.Errorf("got %q", e)
	}
}
