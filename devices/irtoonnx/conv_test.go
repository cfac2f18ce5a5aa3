package irtoonnx

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// convCase is one convolution test: shapes in IR layout and attributes.
type convCase struct {
	xs, ws                []int64
	st, dil, pb, pe, opad []int64
	autoPad               string
	outShape              []int64 // backprop output_shape input, or nil
	dynBatch              bool
}

func (tc convCase) attrs() map[string]string {
	a := map[string]string{"strides": dimsStr(tc.st), "dilations": dimsStr(tc.dil), "pads_begin": dimsStr(tc.pb), "pads_end": dimsStr(tc.pe)}
	if tc.autoPad != "" {
		a["auto_pad"] = tc.autoPad
	}
	if tc.opad != nil {
		a["output_padding"] = dimsStr(tc.opad)
	}
	return a
}

// runConv builds op over x and constant weights w and runs it.
func runConv(t *testing.T, op string, tc convCase, x, w []float32, outShape []int64) output {
	t.Helper()
	n := irtest.New("conv")
	sh := dimsStr(tc.xs)
	if tc.dynBatch {
		sh = "?" + sh[len(fmt.Sprint(tc.xs[0])):]
	}
	px := n.Parameter("x", irmodel.F32, sh)
	ins := []irtest.Out{px, n.F32(tc.ws, w...)}
	if tc.outShape != nil {
		ins = append(ins, n.I64([]int64{int64(len(tc.outShape))}, tc.outShape...))
	}
	y := n.Op(op, "opset1", tc.attrs(), ins, irtest.Port{Type: irmodel.F32, Shape: dimsStr(outShape), Names: "y"})
	n.Result(y[0], "r")
	out := run(t, n, f32("x", tc.xs, x...))["y"]
	if !slices.Equal(out.shape, outShape) {
		t.Fatalf("shape %v, want %v", out.shape, outShape)
	}
	return out
}

// samePads are the spec's same_upper/same_lower pads for a forward window.
func samePads(in, k, s, d int64, upper bool) (int64, int64) {
	out := (in + s - 1) / s
	total := max((out-1)*s+(k-1)*d+1-in, 0)
	if upper {
		return total / 2, total - total/2
	}
	return total - total/2, total / 2
}

func TestConvolution(t *testing.T) {
	for _, tc := range []convCase{
		{xs: []int64{1, 2, 7}, ws: []int64{3, 2, 3}, st: []int64{2}, dil: []int64{1}, pb: []int64{1}, pe: []int64{0}, autoPad: "explicit"},
		{xs: []int64{2, 3, 6, 5}, ws: []int64{4, 3, 3, 2}, st: []int64{2, 1}, dil: []int64{2, 1}, pb: []int64{1, 0}, pe: []int64{2, 1}, dynBatch: true},
		{xs: []int64{1, 2, 5, 6}, ws: []int64{2, 2, 3, 3}, st: []int64{2, 2}, dil: []int64{1, 1}, pb: []int64{9, 9}, pe: []int64{9, 9}, autoPad: "same_upper"},
		{xs: []int64{1, 2, 5, 6}, ws: []int64{2, 2, 2, 2}, st: []int64{1, 1}, dil: []int64{1, 1}, pb: []int64{0, 0}, pe: []int64{0, 0}, autoPad: "same_lower"},
		{xs: []int64{1, 2, 4, 5, 3}, ws: []int64{2, 2, 2, 3, 2}, st: []int64{1, 2, 1}, dil: []int64{1, 1, 2}, pb: []int64{5, 5, 5}, pe: []int64{0, 0, 0}, autoPad: "valid"},
	} {
		t.Run(fmt.Sprint(tc.xs, tc.autoPad), func(t *testing.T) {
			x, w := refSeq(refNum(tc.xs)), refSeq(refNum(tc.ws) + 5)[5:]
			pb, pe := tc.pb, tc.pe
			switch tc.autoPad {
			case "valid":
				pb, pe = make([]int64, len(pb)), make([]int64, len(pb))
			case "same_upper", "same_lower":
				pb, pe = make([]int64, len(pb)), make([]int64, len(pb))
				for i := range pb {
					pb[i], pe[i] = samePads(tc.xs[2+i], tc.ws[2+i], tc.st[i], tc.dil[i], tc.autoPad == "same_upper")
				}
			}
			want, os := refConv(x, tc.xs, w, tc.ws, 1, tc.st, tc.dil, pb, pe)
			near(t, "Convolution", runConv(t, "Convolution", tc, x, w, os).F32(), want, 1e-5)
		})
	}
}

func TestGroupConvolution(t *testing.T) {
	// IR weights [G=2, C_OUT/G=3, C_IN/G=2, 3, 3] are ONNX's [6, 2, 3, 3].
	tc := convCase{xs: []int64{1, 4, 5, 5}, ws: []int64{2, 3, 2, 3, 3}, st: []int64{1, 2}, dil: []int64{1, 1}, pb: []int64{1, 1}, pe: []int64{1, 0}, dynBatch: true}
	x, w := refSeq(refNum(tc.xs)), refSeq(refNum(tc.ws) + 1)[1:]
	want, os := refConv(x, tc.xs, w, []int64{6, 2, 3, 3}, 2, tc.st, tc.dil, tc.pb, tc.pe)
	near(t, "GroupConvolution", runConv(t, "GroupConvolution", tc, x, w, os).F32(), want, 1e-5)
	// depthwise, 1-D
	tc = convCase{xs: []int64{1, 3, 6}, ws: []int64{3, 1, 1, 2}, st: []int64{1}, dil: []int64{2}, pb: []int64{0}, pe: []int64{0}, autoPad: "same_upper"}
	x, w = refSeq(refNum(tc.xs)), refSeq(refNum(tc.ws) + 1)[1:]
	pb, pe := samePads(6, 2, 1, 2, true)
	want, os = refConv(x, tc.xs, w, []int64{3, 1, 2}, 3, tc.st, tc.dil, []int64{pb}, []int64{pe})
	near(t, "GroupConvolution 1-D", runConv(t, "GroupConvolution", tc, x, w, os).F32(), want, 1e-5)
}

func TestConvolutionBackpropData(t *testing.T) {
	for _, tc := range []convCase{
		// explicit pads, output_padding: Y = s*(X-1) + (K-1)*d + 1 - pb - pe + op
		{xs: []int64{1, 2, 3, 3}, ws: []int64{2, 3, 3, 3}, st: []int64{2, 2}, dil: []int64{1, 1}, pb: []int64{1, 0}, pe: []int64{1, 1}, opad: []int64{1, 0}, dynBatch: true},
		{xs: []int64{1, 2, 4}, ws: []int64{2, 1, 3}, st: []int64{3}, dil: []int64{2}, pb: []int64{0}, pe: []int64{2}, opad: []int64{2}, autoPad: "explicit"},
		// any auto_pad without output_shape: pads are zero.
		{xs: []int64{1, 1, 2, 2, 2}, ws: []int64{1, 2, 2, 2, 2}, st: []int64{2, 1, 2}, dil: []int64{1, 1, 1}, pb: []int64{1, 1, 1}, pe: []int64{1, 1, 1}, autoPad: "same_upper"},
		{xs: []int64{1, 2, 3, 3}, ws: []int64{2, 2, 3, 3}, st: []int64{2, 2}, dil: []int64{1, 1}, pb: []int64{1, 1}, pe: []int64{1, 1}, autoPad: "valid"},
		// output_shape: pads from the spec's total_padding.
		{xs: []int64{1, 2, 3, 3}, ws: []int64{2, 2, 3, 3}, st: []int64{2, 2}, dil: []int64{1, 1}, pb: []int64{0, 0}, pe: []int64{0, 0}, autoPad: "same_upper", outShape: []int64{6, 5}},
		{xs: []int64{1, 2, 3, 3}, ws: []int64{2, 2, 3, 3}, st: []int64{2, 2}, dil: []int64{1, 1}, pb: []int64{0, 0}, pe: []int64{0, 0}, autoPad: "same_lower", outShape: []int64{6, 5}},
		{xs: []int64{1, 2, 3, 3}, ws: []int64{2, 2, 3, 3}, st: []int64{1, 1}, dil: []int64{1, 1}, pb: []int64{7, 7}, pe: []int64{7, 7}, autoPad: "explicit", outShape: []int64{8, 4}, opad: []int64{0, 0}},
	} {
		t.Run(fmt.Sprint(tc.xs, tc.autoPad, tc.outShape), func(t *testing.T) {
			n := len(tc.xs) - 2
			x, w := refSeq(refNum(tc.xs)), refSeq(refNum(tc.ws) + 2)[2:]
			op := tc.opad
			if op == nil {
				op = make([]int64, n)
			}
			pb, pe := tc.pb, tc.pe
			if tc.autoPad != "" && tc.autoPad != "explicit" {
				pb, pe = make([]int64, n), make([]int64, n)
			}
			osp := make([]int64, n)
			for i := range n {
				full := tc.st[i]*(tc.xs[2+i]-1) + (tc.ws[2+i]-1)*tc.dil[i] + 1
				if tc.outShape != nil {
					total := full - tc.outShape[i] + op[i]
					if tc.autoPad == "same_upper" {
						pe[i] = floorDivInt(total, 2)
						pb[i] = total - pe[i]
					} else {
						pb[i] = floorDivInt(total, 2)
					}
					osp[i] = tc.outShape[i]
				} else {
					osp[i] = full - pb[i] - pe[i] + op[i]
				}
			}
			want, os := refConvT(x, tc.xs, w, tc.ws, 1, tc.st, tc.dil, pb, osp)
			near(t, "ConvolutionBackpropData", runConv(t, "ConvolutionBackpropData", tc, x, w, os).F32(), want, 1e-5)
		})
	}
}

func TestGroupConvolutionBackpropData(t *testing.T) {
	// IR weights [G=2, C_IN/G=2, C_OUT/G=3, 2, 2] are ONNX's [4, 3, 2, 2].
	tc := convCase{xs: []int64{1, 4, 3, 2}, ws: []int64{2, 2, 3, 2, 2}, st: []int64{2, 1}, dil: []int64{1, 2}, pb: []int64{1, 0}, pe: []int64{0, 1}, opad: []int64{1, 0}, dynBatch: true}
	x, w := refSeq(refNum(tc.xs)), refSeq(refNum(tc.ws) + 3)[3:]
	osp := []int64{2*2 + 2 - 1 + 1, 1 + 3 - 1}
	want, os := refConvT(x, tc.xs, w, []int64{4, 3, 2, 2}, 2, tc.st, tc.dil, tc.pb, osp)
	near(t, "GroupConvolutionBackpropData", runConv(t, "GroupConvolutionBackpropData", tc, x, w, os).F32(), want, 1e-5)
	// with output_shape
	tc = convCase{xs: []int64{1, 4, 3, 2}, ws: []int64{2, 2, 3, 2, 2}, st: []int64{2, 2}, dil: []int64{1, 1}, pb: []int64{0, 0}, pe: []int64{0, 0}, outShape: []int64{5, 4}, autoPad: "same_lower"}
	// full = 6, 4: total 1, 0 -> pads_begin 0, 0
	want, os = refConvT(x, tc.xs, w, []int64{4, 3, 2, 2}, 2, tc.st, tc.dil, []int64{0, 0}, []int64{5, 4})
	near(t, "GroupConvolutionBackpropData output_shape", runConv(t, "GroupConvolutionBackpropData", tc, x, w, os).F32(), want, 1e-5)
}
