package irtoonnx

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// poolNet is op over x [shape] with attrs; with indices the layer has a
// second (index) output.
func poolNet(op, ver string, shape, outShape string, attrs map[string]string, indices irmodel.ElementType) *irtest.Net {
	n := irtest.New("pool")
	x := n.Parameter("x", irmodel.F32, shape)
	ports := []irtest.Port{{Type: irmodel.F32, Shape: outShape, Names: "y"}}
	if indices != "" {
		ports = append(ports, irtest.Port{Type: indices, Shape: outShape, Names: "idx"})
	}
	y := n.Op(op, ver, attrs, []irtest.Out{x}, ports...)
	n.Result(y[0], "r")
	if indices != "" {
		n.Result(y[1], "ri")
	}
	return n
}

// TestMaxPool8SpecExamples runs the MaxPool-8 spec's examples.
func TestMaxPool8SpecExamples(t *testing.T) {
	x33 := []float32{-1, 2, 3, 4, 5, -6, -7, 8, 9}
	for i, tc := range []struct {
		shape, out []int64
		x          []float32
		attrs      map[string]string
		want       []float32
		idx        []int64
	}{
		{[]int64{1, 1, 3, 3}, []int64{1, 1, 4, 4}, x33, map[string]string{"strides": "1,1", "pads_begin": "1,1", "pads_end": "1,1", "kernel": "2,2", "auto_pad": "explicit"},
			// The spec prints -6 (index 5) at [1][3], but that window holds
			// input rows 0-1 of column 2: max(3, -6) = 3, index 2.
			[]float32{-1, 2, 3, 3, 4, 5, 5, 3, 4, 8, 9, 9, -7, 8, 9, 9}, []int64{0, 1, 2, 2, 3, 4, 4, 2, 3, 7, 8, 8, 6, 7, 8, 8}},
		{[]int64{1, 1, 7}, []int64{1, 1, 5}, []float32{-1, 2, 3, 5, -7, 9, 1}, map[string]string{"strides": "1", "kernel": "3", "auto_pad": "valid"},
			[]float32{3, 5, 5, 9, 9}, []int64{2, 3, 3, 5, 5}},
		{[]int64{1, 1, 3, 3}, []int64{1, 1, 3, 3}, x33, map[string]string{"strides": "1,1", "kernel": "2,2", "auto_pad": "same_lower"},
			[]float32{-1, 2, 3, 4, 5, 5, 4, 8, 9}, []int64{0, 1, 2, 3, 4, 4, 3, 7, 8}},
		{[]int64{1, 2, 3, 3}, []int64{1, 2, 3, 3}, append(slices.Clone(x33), 2, -1, 5, 6, -7, 1, 8, 2, -3), map[string]string{"strides": "1,1", "kernel": "2,2", "auto_pad": "same_upper"},
			[]float32{5, 5, 3, 8, 9, 9, 8, 9, 9, 6, 5, 5, 8, 2, 1, 8, 2, -3}, []int64{4, 4, 2, 7, 8, 8, 7, 8, 8, 12, 11, 11, 15, 16, 14, 15, 16, 17}},
		{[]int64{1, 1, 3, 3}, []int64{1, 1, 2, 2}, x33, map[string]string{"strides": "2,2", "kernel": "2,2", "auto_pad": "valid", "rounding_type": "ceil"},
			[]float32{5, 3, 8, 9}, []int64{4, 2, 7, 8}},
		{[]int64{1, 1, 3, 3}, []int64{1, 1, 3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, map[string]string{"strides": "1,1", "kernel": "2,2", "dilations": "2,2", "pads_begin": "1,1", "pads_end": "1,1"},
			[]float32{5, 6, 5, 8, 9, 8, 5, 6, 5}, []int64{4, 5, 4, 7, 8, 7, 4, 5, 4}},
		{[]int64{1, 2, 3, 3}, []int64{1, 2, 2, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, map[string]string{"strides": "1,1", "kernel": "2,2", "pads_begin": "0,0", "pads_end": "0,0", "axis": "2"},
			[]float32{5, 6, 8, 9, 14, 15, 17, 18}, []int64{4, 5, 7, 8, 4, 5, 7, 8}},
		// axis -3 on a batch of 2: indices count within [C, H, W].
		{[]int64{2, 1, 2, 2}, []int64{2, 1, 1, 1}, []float32{1, 4, 2, 3, 9, 5, 6, 7}, map[string]string{"strides": "1,1", "kernel": "2,2", "axis": "-3", "index_element_type": "i32"},
			[]float32{4, 9}, []int64{1, 0}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			it := irmodel.ElementType(irmodel.I64)
			if tc.attrs["index_element_type"] == "i32" {
				it = irmodel.I32
			}
			outs := run(t, poolNet("MaxPool", "opset8", dimsStr(tc.shape), dimsStr(tc.out), tc.attrs, it), f32("x", tc.shape, tc.x...))
			near(t, "values", outs["y"].F32(), tc.want, 0)
			var idx []int64
			if it == irmodel.I32 {
				for _, v := range outs["idx"].I32() {
					idx = append(idx, int64(v))
				}
			} else {
				idx = outs["idx"].I64()
			}
			if !slices.Equal(idx, tc.idx) || !slices.Equal(outs["y"].shape, tc.out) {
				t.Fatalf("indices %v shape %v, want %v %v", idx, outs["y"].shape, tc.idx, tc.out)
			}
		})
	}
}

// refPool is the spec's pooling over explicit pads: max, or the average
// over the window's input elements (exclude-pad) or its whole size.
func refPool(x []float32, xs []int64, k, st, pb, pe []int64, ceil, isMax, excludePad bool) ([]float32, []int64) {
	n := len(xs) - 2
	os := slices.Clone(xs[:2])
	for i := range n {
		num := xs[2+i] + pb[i] + pe[i] - k[i]
		o := num/st[i] + 1
		if ceil {
			o = (num+st[i]-1)/st[i] + 1
		}
		os = append(os, o)
	}
	out := make([]float32, refNum(os))
	xst := refStrides(xs)
	for o := range out {
		oi := refUnravel(int64(o), os)
		best, sum, cnt, size := float32(-1e30), float32(0), 0, 0
		for kf := range refNum(k) {
			ki := refUnravel(kf, k)
			off := oi[0]*xst[0] + oi[1]*xst[1]
			in, inPadded := true, true
			for i := range n {
				p := oi[2+i]*st[i] + ki[i] - pb[i]
				if p < 0 || p >= xs[2+i] {
					in = false
				}
				if p >= xs[2+i]+pe[i] {
					inPadded = false
				}
				off += p * xst[2+i]
			}
			if inPadded {
				size++
			}
			if in {
				best = max(best, x[off])
				sum += x[off]
				cnt++
			}
		}
		switch {
		case isMax:
			out[o] = best
		case excludePad:
			out[o] = sum / float32(cnt)
		default:
			out[o] = sum / float32(size)
		}
	}
	return out, os
}

func TestAvgPoolAndMaxPool1(t *testing.T) {
	for _, tc := range []struct {
		xs, k, st, pb, pe []int64
		ceil, exclude     bool
	}{
		{[]int64{1, 2, 5, 5}, []int64{3, 3}, []int64{2, 2}, []int64{1, 1}, []int64{1, 1}, false, true},
		{[]int64{1, 2, 5, 5}, []int64{3, 3}, []int64{2, 2}, []int64{1, 1}, []int64{1, 1}, false, false},
		{[]int64{2, 1, 6}, []int64{3}, []int64{2}, []int64{0}, []int64{0}, true, true},
		{[]int64{1, 1, 4, 4, 4}, []int64{2, 2, 2}, []int64{2, 2, 2}, []int64{1, 0, 0}, []int64{0, 0, 1}, false, false},
	} {
		x := refSeq(refNum(tc.xs))
		attrs := map[string]string{"kernel": dimsStr(tc.k), "strides": dimsStr(tc.st), "pads_begin": dimsStr(tc.pb), "pads_end": dimsStr(tc.pe),
			"exclude-pad": fmt.Sprint(tc.exclude), "rounding_type": map[bool]string{true: "ceil", false: "floor"}[tc.ceil]}
		want, os := refPool(x, tc.xs, tc.k, tc.st, tc.pb, tc.pe, tc.ceil, false, tc.exclude)
		out := run(t, poolNet("AvgPool", "opset1", dimsStr(tc.xs), dimsStr(os), attrs, ""), f32("x", tc.xs, x...))["y"]
		near(t, fmt.Sprint("AvgPool", tc), out.F32(), want, 1e-5)
		want, os = refPool(x, tc.xs, tc.k, tc.st, tc.pb, tc.pe, tc.ceil, true, false)
		out = run(t, poolNet("MaxPool", "opset1", dimsStr(tc.xs), dimsStr(os), attrs, ""), f32("x", tc.xs, x...))["y"]
		near(t, fmt.Sprint("MaxPool", tc), out.F32(), want, 0)
	}
	// A ceil window that starts in the end padding is refused.
	n := poolNet("MaxPool", "opset1", "1,1,5", "1,1,4", map[string]string{"kernel": "2", "strides": "2", "pads_begin": "0", "pads_end": "2", "rounding_type": "ceil"}, "")
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Translate(m, Options{}); err == nil || !strings.Contains(err.Error(), "last window starts in the end padding") {
		t.Fatalf("ceil window in the padding: %v", err)
	}
}

func TestAdaptivePools(t *testing.T) {
	xs := []int64{2, 2, 5, 7}
	outSize := []int64{3, 4}
	x := refSeq(refNum(xs))
	x[3] = 100 // a clear maximum
	for _, isMax := range []bool{false, true} {
		op := "AdaptiveAvgPool"
		if isMax {
			op = "AdaptiveMaxPool"
		}
		n := irtest.New("ap")
		px := n.Parameter("x", irmodel.F32, "?,2,5,7")
		ports := []irtest.Port{{Type: irmodel.F32, Shape: "-1,2,3,4", Names: "y"}}
		attrs := map[string]string{}
		if isMax {
			ports = append(ports, irtest.Port{Type: irmodel.I32, Shape: "-1,2,3,4", Names: "idx"})
			attrs["index_element_type"] = "i32"
		}
		y := n.Op(op, "opset8", attrs, []irtest.Out{px, n.I64([]int64{2}, outSize...)}, ports...)
		n.Result(y[0], "r")
		if isMax {
			n.Result(y[1], "ri")
		}
		outs := run(t, n, f32("x", xs, x...))
		os := []int64{2, 2, 3, 4}
		want := make([]float32, refNum(os))
		wantIdx := make([]int32, len(want))
		for o := range want {
			oi := refUnravel(int64(o), os)
			h0, h1 := oi[2]*5/3, ((oi[2]+1)*5+2)/3
			w0, w1 := oi[3]*7/4, ((oi[3]+1)*7+3)/4
			var sum float32
			best := float32(-1e30)
			for h := h0; h < h1; h++ {
				for w := w0; w < w1; w++ {
					v := x[((oi[0]*2+oi[1])*5+h)*7+w]
					sum += v
					if v > best {
						best, wantIdx[o] = v, int32(h*7+w)
					}
				}
			}
			want[o] = sum / float32((h1-h0)*(w1-w0))
			if isMax {
				want[o] = best
			}
		}
		near(t, op, outs["y"].F32(), want, 1e-5)
		if isMax && !slices.Equal(outs["idx"].I32(), wantIdx) {
			t.Fatalf("indices %v, want %v", outs["idx"].I32(), wantIdx)
		}
	}
}
