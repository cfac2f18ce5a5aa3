package irtoonnx

import (
	"fmt"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

func TestNonZero(t *testing.T) {
	for _, ot := range []string{"", "i64", "i32"} {
		n := irtest.New("nonzero")
		a := n.Parameter("a", irmodel.F32, "?,3")
		attrs := map[string]string{}
		pt := irmodel.I64
		if ot != "" {
			attrs["output_type"] = ot
			pt = irmodel.ElementType(ot)
		}
		y := n.Op("NonZero", "opset3", attrs, []irtest.Out{a}, irtest.Port{Type: pt, Shape: "2,?", Names: "y"})
		n.Result(y[0], "y/sink")
		out := run(t, n, f32("a", []int64{2, 3}, 0, 1.5, 0, -2, 0, 3))["y"]
		want := []int64{0, 1, 1, 1, 0, 2}
		if pt == irmodel.I32 {
			mvCheckI32(t, "nonzero i32", out, []int64{2, 3}, []int32{0, 1, 1, 1, 0, 2})
		} else {
			mvCheckI64(t, "nonzero "+ot, out, []int64{2, 3}, want)
		}
	}
}

// rangeRef is Range per its spec: max(ceil((stop-start)/step), 0) values
// start + i*step, with start and step cast toward zero first for integer
// outputs.
func rangeRef(start, stop, step float64, integer bool) []float64 {
	n := max(int(math.Ceil((stop-start)/step)), 0)
	if integer {
		start, step = math.Trunc(start), math.Trunc(step)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = start + float64(i)*step
	}
	return out
}

func TestRange(t *testing.T) {
	for _, tc := range []struct {
		ver              string
		in, out          irmodel.ElementType
		start, stop, stp float64
	}{
		{"opset1", irmodel.I32, irmodel.I32, 2, 23, 3},
		{"opset1", irmodel.I64, irmodel.I64, 23, 2, -3},
		{"opset1", irmodel.F32, irmodel.F32, 1, 2.5, 0.5},
		{"opset1", irmodel.I32, irmodel.I32, 5, 1, 1},
		{"opset4", irmodel.I64, irmodel.F32, 0, 5, 2},
		{"opset4", irmodel.F32, irmodel.I32, 0.5, 5.2, 1.5},
		{"opset4", irmodel.F32, irmodel.I64, -1.5, 3, 1},
		{"opset4", irmodel.I32, irmodel.F32, 10, 0, -4},
	} {
		name := fmt.Sprint(tc.ver, tc.in, "->", tc.out, tc.start, tc.stop, tc.stp)
		t.Run(name, func(t *testing.T) {
			n := irtest.New("range")
			var ins []irtest.Out
			var feeds []feed
			for i, v := range []float64{tc.start, tc.stop, tc.stp} {
				nm := fmt.Sprint("x", i)
				ins = append(ins, n.Parameter(nm, tc.in, ""))
				switch tc.in {
				case irmodel.F32:
					feeds = append(feeds, f32(nm, nil, float32(v)))
				case irmodel.I32:
					feeds = append(feeds, i32(nm, nil, int32(v)))
				default:
					feeds = append(feeds, i64(nm, nil, int64(v)))
				}
			}
			attrs := map[string]string{}
			if tc.ver == "opset4" {
				attrs["output_type"] = string(tc.out)
			}
			y := n.Op("Range", tc.ver, attrs, ins, irtest.Port{Type: tc.out, Shape: "?", Names: "y"})
			n.Result(y[0], "y/sink")
			out := run(t, n, feeds...)["y"]
			want := rangeRef(tc.start, tc.stop, tc.stp, tc.out != irmodel.F32)
			shape := []int64{int64(len(want))}
			switch tc.out {
			case irmodel.F32:
				w := make([]float32, len(want))
				for i, v := range want {
					w[i] = float32(v)
				}
				mvCheck(t, name, out, shape, w)
			case irmodel.I32:
				w := make([]int32, len(want))
				for i, v := range want {
					w[i] = int32(v)
				}
				mvCheckI32(t, name, out, shape, w)
			default:
				w := make([]int64, len(want))
				for i, v := range want {
					w[i] = int64(v)
				}
				mvCheckI64(t, name, out, shape, w)
			}
		})
	}
}

// reverseSeqRef reverses the first lens[b] elements along seq for each
// batch index b.
func reverseSeqRef(data []float32, shape []int64, lens []int64, batch, seq int) []float32 {
	out := make([]float32, len(data))
	for o := range out {
		oi := mvUnravel(o, shape)
		if l := lens[oi[batch]]; oi[seq] < l {
			oi[seq] = l - 1 - oi[seq]
		}
		out[o] = data[mvOffset(oi, shape)]
	}
	return out
}

func TestReverseSequence(t *testing.T) {
	shape := []int64{2, 3, 4}
	data := mvIota(24)
	for _, tc := range []struct {
		batch, seq int64
		lens       []int64
	}{
		{0, 1, []int64{3, 1}},
		{1, 0, []int64{2, 0, 1}},
		{2, 1, []int64{3, 2, 1, 0}},
		{-1, -3, []int64{1, 2, 2, 1}},
		{0, 2, []int64{4, 2}},
	} {
		t.Run(fmt.Sprint(tc.batch, tc.seq), func(t *testing.T) {
			n := irtest.New("revseq")
			a := n.Parameter("a", irmodel.F32, "2,?,4")
			l := n.Parameter("l", irmodel.F32, fmt.Sprint(len(tc.lens)))
			y := n.Op("ReverseSequence", "opset1", map[string]string{"batch_axis": fmt.Sprint(tc.batch), "seq_axis": fmt.Sprint(tc.seq)}, []irtest.Out{a, l}, irtest.Port{Type: irmodel.F32, Shape: "2,?,4", Names: "y"})
			n.Result(y[0], "y/sink")
			lf := make([]float32, len(tc.lens))
			for i, v := range tc.lens {
				lf[i] = float32(v)
			}
			b, s := tc.batch, tc.seq
			if b < 0 {
				b += 3
			}
			if s < 0 {
				s += 3
			}
			out := run(t, n, f32("a", shape, data...), f32("l", []int64{int64(len(lf))}, lf...))["y"]
			mvCheck(t, "revseq", out, shape, reverseSeqRef(data, shape, tc.lens, int(b), int(s)))
		})
	}
}
