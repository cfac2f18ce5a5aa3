package irtoonnx

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor/f16"
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// opCount counts the nodes of each op type in a translated model.
func opCount(r *Result) map[string]int {
	ops := map[string]int{}
	for _, n := range r.Model.GetGraph().GetNode() {
		ops[n.GetOpType()]++
	}
	return ops
}

// nodeOf returns the first node of type op.
func nodeOf(r *Result, op string) *onnxpb.NodeProto {
	for _, n := range r.Model.GetGraph().GetNode() {
		if n.GetOpType() == op {
			return n
		}
	}
	return nil
}

// TestFuseConvBias: a Convolution followed by an Add of a constant that
// only spreads the output channels becomes one Conv with a bias; any other
// Add stays, and the results are the convolution plus the constant either
// way.
func TestFuseConvBias(t *testing.T) {
	xs, ws, os := []int64{1, 2, 4, 4}, []int64{3, 2, 3, 3}, []int64{1, 3, 4, 4}
	x, w := refSeq(refNum(xs)), refSeq(refNum(ws) + 2)[2:]
	conv, _ := refConv(x, xs, w, ws, 1, []int64{1, 1}, []int64{1, 1}, []int64{1, 1}, []int64{1, 1})
	for _, tc := range []struct {
		name      string
		bias      []int64
		biasFirst bool // Add(bias, conv)
		alsoRelu  bool // the convolution's result is read by a Relu too
		fused     bool
	}{
		{"[1,C,1,1]", []int64{1, 3, 1, 1}, false, false, true},
		{"[C,1,1]", []int64{3, 1, 1}, false, false, true},
		{"bias first", []int64{1, 3, 1, 1}, true, false, true},
		{"one value", []int64{1, 1, 1, 1}, false, false, false},
		{"a full tensor", []int64{1, 3, 4, 4}, false, false, false},
		{"result read twice", []int64{1, 3, 1, 1}, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := refSeq(refNum(tc.bias) + 7)[7:]
			n := irtest.New("convbias")
			px := n.Parameter("x", irmodel.F32, dimsStr(xs))
			c := n.Op("Convolution", "opset1", map[string]string{"strides": "1,1", "dilations": "1,1", "pads_begin": "1,1", "pads_end": "1,1"},
				[]irtest.Out{px, n.F32(ws, w...)}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os)})
			ins := []irtest.Out{c[0], n.F32(tc.bias, b...)}
			if tc.biasFirst {
				ins[0], ins[1] = ins[1], ins[0]
			}
			y := n.Op("Add", "opset1", nil, ins, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os), Names: "y"})
			n.Result(y[0], "r")
			if tc.alsoRelu {
				z := n.Op("Relu", "opset1", nil, []irtest.Out{c[0]}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os), Names: "z"})
				n.Result(z[0], "rz")
			}
			r := translateNet(t, n)
			checkOrder(t, r)
			ops := opCount(r)
			if fused := ops["Add"] == 0 && len(nodeOf(r, "Conv").GetInput()) == 3; fused != tc.fused {
				t.Fatalf("fused %v, want %v: %v", fused, tc.fused, ops)
			}
			want := slices.Clone(conv)
			for i := range want {
				idx := refUnravel(int64(i), os)
				var off int64
				st := refStrides(tc.bias)
				for k := range tc.bias {
					d := idx[len(idx)-len(tc.bias)+k]
					off += min(d, tc.bias[k]-1) * st[k]
				}
				want[i] += b[off]
			}
			near(t, "Convolution + Add", run(t, n, f32("x", xs, x...))["y"].F32(), want, 1e-5)
		})
	}
}

// TestFuseSharedBias: one bias constant read by the Adds of two
// convolutions: both fuse, the second with its own [C] copy of it.
func TestFuseSharedBias(t *testing.T) {
	xs, ws, os := []int64{1, 2, 3, 3}, []int64{2, 2, 1, 1}, []int64{1, 2, 3, 3}
	x, w := refSeq(refNum(xs)), refSeq(refNum(ws) + 1)[1:]
	conv, _ := refConv(x, xs, w, ws, 1, []int64{1, 1}, []int64{1, 1}, []int64{0, 0}, []int64{0, 0})
	n := irtest.New("shared")
	px := n.Parameter("x", irmodel.F32, dimsStr(xs))
	bias := n.F32([]int64{1, 2, 1, 1}, 10, 20)
	attrs := map[string]string{"strides": "1,1", "dilations": "1,1", "pads_begin": "0,0", "pads_end": "0,0"}
	port := irtest.Port{Type: irmodel.F32, Shape: dimsStr(os)}
	var sums []irtest.Out
	for range 2 {
		c := n.Op("Convolution", "opset1", attrs, []irtest.Out{px, n.F32(ws, w...)}, port)
		sums = append(sums, n.Op("Add", "opset1", nil, []irtest.Out{c[0], bias}, port)[0])
	}
	port.Names = "y"
	y := n.Op("Add", "opset1", nil, sums, port)
	n.Result(y[0], "r")
	r := translateNet(t, n)
	checkOrder(t, r)
	if ops := opCount(r); ops["Add"] != 1 || ops["Conv"] != 2 {
		t.Fatalf("ops %v, want 2 Conv with biases and the last Add", ops)
	}
	for _, init := range r.Model.GetGraph().GetInitializer() {
		if len(init.GetDims()) == 4 && init.GetDims()[0] == 1 && init.GetDims()[1] == 2 {
			t.Errorf("the [1,2,1,1] bias is still there as %q", init.GetName())
		}
	}
	want := make([]float32, len(conv))
	for i := range want {
		want[i] = 2 * (conv[i] + []float32{10, 20}[refUnravel(int64(i), os)[1]])
	}
	near(t, "two Conv + shared bias", run(t, n, f32("x", xs, x...))["y"].F32(), want, 1e-5)
}

// TestMatMulMatricesAreGemm: a MatMul of two f32 matrices is a Gemm (no
// Transpose for transpose_a/transpose_b), and the Add of a [N] or [1,N]
// constant after it becomes its C input; other MatMuls stay MatMul.
func TestMatMulMatricesAreGemm(t *testing.T) {
	for _, tc := range []struct {
		as, bs []int64
		ta, tb bool
		dynA   bool
		bias   []int64 // nil: no Add
		typ    irmodel.ElementType
		gemm   bool
		fused  bool
	}{
		{as: []int64{3, 4}, bs: []int64{5, 4}, tb: true, typ: irmodel.F32, gemm: true},
		{as: []int64{4, 3}, bs: []int64{5, 4}, ta: true, tb: true, typ: irmodel.F32, gemm: true},
		{as: []int64{3, 4}, bs: []int64{4, 5}, dynA: true, typ: irmodel.F32, gemm: true},
		{as: []int64{3, 4}, bs: []int64{5, 4}, tb: true, bias: []int64{5}, typ: irmodel.F32, gemm: true, fused: true},
		{as: []int64{3, 4}, bs: []int64{4, 5}, bias: []int64{1, 5}, typ: irmodel.F32, gemm: true, fused: true},
		{as: []int64{3, 4}, bs: []int64{5, 4}, tb: true, bias: []int64{3, 5}, typ: irmodel.F32, gemm: true},
		{as: []int64{3, 4}, bs: []int64{5, 4}, tb: true, typ: irmodel.I32},
		{as: []int64{2, 3, 4}, bs: []int64{5, 4}, tb: true, typ: irmodel.F32},
	} {
		t.Run(fmt.Sprint(tc.as, tc.bs, tc.ta, tc.tb, tc.bias, tc.typ), func(t *testing.T) {
			a, b := refSeq(refNum(tc.as)), refSeq(refNum(tc.bs) + 3)[3:]
			want, ws := refMatMul(a, tc.as, b, tc.bs, tc.ta, tc.tb)
			n := irtest.New("mm")
			shA := dimsStr(tc.as)
			if tc.dynA {
				shA = "?" + shA[1:]
			}
			pa := n.Parameter("a", tc.typ, shA)
			var pb irtest.Out
			if tc.typ == irmodel.I32 {
				bi := make([]int32, len(b))
				for i := range b {
					bi[i] = int32(b[i] * 4)
					b[i] = float32(bi[i])
				}
				want, _ = refMatMul(a, tc.as, b, tc.bs, tc.ta, tc.tb)
				pb = n.I32(tc.bs, bi...)
			} else {
				pb = n.F32(tc.bs, b...)
			}
			port := irtest.Port{Type: tc.typ, Shape: dimsStr(ws), Names: "y"}
			if tc.bias != nil {
				port.Names = ""
			}
			y := n.Op("MatMul", "opset1", map[string]string{"transpose_a": fmt.Sprint(tc.ta), "transpose_b": fmt.Sprint(tc.tb)},
				[]irtest.Out{pa, pb}, port)
			if tc.bias != nil {
				bv := refSeq(refNum(tc.bias) + 1)[1:]
				port.Names = "y"
				y = n.Op("Add", "opset1", nil, []irtest.Out{y[0], n.F32(tc.bias, bv...)}, port)
				for i := range want {
					idx := refUnravel(int64(i), ws)
					if len(tc.bias) == 2 && tc.bias[0] != 1 {
						want[i] += bv[idx[0]*tc.bias[1]+idx[1]]
					} else {
						want[i] += bv[idx[len(idx)-1]]
					}
				}
			}
			n.Result(y[0], "r")
			r := translateNet(t, n)
			checkOrder(t, r)
			ops := opCount(r)
			if gemm := ops["Gemm"] == 1 && ops["MatMul"] == 0 && ops["Transpose"] == 0; gemm != tc.gemm {
				t.Fatalf("Gemm %v, want %v: %v", gemm, tc.gemm, ops)
			}
			if fused := tc.bias != nil && ops["Add"] == 0; fused != tc.fused {
				t.Fatalf("bias fused %v, want %v: %v", fused, tc.fused, ops)
			}
			var feed feed
			if tc.typ == irmodel.I32 {
				ai := make([]int32, len(a))
				for i := range a {
					ai[i] = int32(a[i] * 4)
					a[i] = float32(ai[i])
				}
				want, _ = refMatMul(a, tc.as, b, tc.bs, tc.ta, tc.tb)
				feed = i32("a", tc.as, ai...)
				got := run(t, n, feed)["y"].I32()
				for i := range want {
					if float32(got[i]) != want[i] {
						t.Fatalf("y[%d] = %d, want %g", i, got[i], want[i])
					}
				}
				return
			}
			feed = f32("a", tc.as, a...)
			near(t, "MatMul", run(t, n, feed)["y"].F32(), want, 1e-5)
		})
	}
}

// TestFuseDecompressedBias: in an f16-compressed IR (Const f16 -> Convert
// -> the layer) the bias fuses too, through its Cast; a decompressed bias
// that another layer also reads stays an Add.
func TestFuseDecompressedBias(t *testing.T) {
	xs, ws, os := []int64{1, 2, 3, 3}, []int64{2, 2, 1, 1}, []int64{1, 2, 3, 3}
	x, w := refSeq(refNum(xs)), refSeq(refNum(ws) + 1)[1:]
	conv, _ := refConv(x, xs, w, ws, 1, []int64{1, 1}, []int64{1, 1}, []int64{0, 0}, []int64{0, 0})
	half := func(n *irtest.Net, dims []int64, vals ...float32) irtest.Out {
		var raw []byte
		for _, v := range vals {
			raw = binary.LittleEndian.AppendUint16(raw, f16.Float32ToHalf(v))
		}
		c := n.Const(irmodel.F16, dims, raw)
		return n.Op("Convert", "opset1", map[string]string{"destination_type": "f32"}, []irtest.Out{c},
			irtest.Port{Type: irmodel.F32, Shape: dimsStr(dims)})[0]
	}
	for _, tc := range []struct{ shared, f32Weights bool }{{false, false}, {true, false}, {false, true}} {
		shared := tc.shared
		// With f32 weights the Conv is ready as early as the bias's
		// Convert: the fused Conv must still come after it.
		t.Run(fmt.Sprintf("bias read twice %v, f32 weights %v", tc.shared, tc.f32Weights), func(t *testing.T) {
			n := irtest.New("f16")
			px := n.Parameter("x", irmodel.F32, dimsStr(xs))
			attrs := map[string]string{"strides": "1,1", "dilations": "1,1", "pads_begin": "0,0", "pads_end": "0,0"}
			port := irtest.Port{Type: irmodel.F32, Shape: dimsStr(os)}
			weights := n.F32(ws, w...)
			if !tc.f32Weights {
				weights = half(n, ws, w...)
			}
			c := n.Op("Convolution", "opset1", attrs, []irtest.Out{px, weights}, port)
			bias := half(n, []int64{1, 2, 1, 1}, 10, 20)
			port.Names = "y"
			y := n.Op("Add", "opset1", nil, []irtest.Out{c[0], bias}, port)
			n.Result(y[0], "r")
			if shared {
				z := n.Op("Multiply", "opset1", nil, []irtest.Out{px, bias}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os), Names: "z"})
				n.Result(z[0], "rz")
			}
			r := translateNet(t, n)
			checkOrder(t, r)
			ops := opCount(r)
			if fused := ops["Add"] == 0 && len(nodeOf(r, "Conv").GetInput()) == 3; fused == shared {
				t.Fatalf("fused %v with the bias read twice %v: %v", fused, shared, ops)
			}
			want := make([]float32, len(conv))
			for i := range want {
				want[i] = conv[i] + []float32{10, 20}[refUnravel(int64(i), os)[1]]
			}
			near(t, "f16 Conv + bias", run(t, n, f32("x", xs, x...))["y"].F32(), want, 1e-5)
		})
	}
}

// checkOrder fails t unless every node of the translated model reads only
// graph inputs, initializers and outputs of nodes before it (ONNX wants
// its nodes in topological order; a model `ovms convert` writes is read by
// other tools too).
func checkOrder(t *testing.T, r *Result) {
	t.Helper()
	g := r.Model.GetGraph()
	known := map[string]bool{"": true}
	for _, v := range g.GetInput() {
		known[v.GetName()] = true
	}
	for _, i := range g.GetInitializer() {
		known[i.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if !known[in] {
				t.Fatalf("node %s (%s) reads %q before a node writes it", n.GetName(), n.GetOpType(), in)
			}
		}
		for _, o := range n.GetOutput() {
			known[o] = true
		}
	}
}
