package irtoonnx

import (
	"slices"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// Reference helpers for the data-movement tests: row-major index
// arithmetic over flat slices.

// mvIota is 0, 1, ..., n-1 as float32.
func mvIota(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)
	}
	return out
}

// mvCount is the number of elements of shape.
func mvCount(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// mvUnravel is the multi-index of flat offset i in shape.
func mvUnravel(i int, shape []int64) []int64 {
	idx := make([]int64, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		idx[a] = int64(i) % shape[a]
		i /= int(shape[a])
	}
	return idx
}

// mvOffset is the flat offset of idx in shape.
func mvOffset(idx, shape []int64) int {
	off := 0
	for a := range shape {
		off = off*int(shape[a]) + int(idx[a])
	}
	return off
}

// mvTransposeRef transposes data of shape by perm.
func mvTransposeRef(data []float32, shape, perm []int64) ([]float32, []int64) {
	oshape := make([]int64, len(perm))
	for i, p := range perm {
		oshape[i] = shape[p]
	}
	out := make([]float32, len(data))
	for i := range out {
		oi := mvUnravel(i, oshape)
		ii := make([]int64, len(shape))
		for a, p := range perm {
			ii[p] = oi[a]
		}
		out[i] = data[mvOffset(ii, shape)]
	}
	return out, oshape
}

// mvCheck fails t unless o has shape and the float32 values want.
func mvCheck(t *testing.T, what string, o output, shape []int64, want []float32) {
	t.Helper()
	if !slices.Equal(o.shape, shape) {
		t.Fatalf("%s: shape %v, want %v", what, o.shape, shape)
	}
	if got := o.F32(); !slices.Equal(got, want) {
		t.Fatalf("%s: %v\nwant %v", what, got, want)
	}
}

// mvCheckI64 fails t unless o has shape and the int64 values want.
func mvCheckI64(t *testing.T, what string, o output, shape []int64, want []int64) {
	t.Helper()
	if !slices.Equal(o.shape, shape) {
		t.Fatalf("%s: shape %v, want %v", what, o.shape, shape)
	}
	if got := o.I64(); !slices.Equal(got, want) {
		t.Fatalf("%s: %v\nwant %v", what, got, want)
	}
}

// mvCheckI32 fails t unless o has shape and the int32 values want.
func mvCheckI32(t *testing.T, what string, o output, shape []int64, want []int32) {
	t.Helper()
	if !slices.Equal(o.shape, shape) {
		t.Fatalf("%s: shape %v, want %v", what, o.shape, shape)
	}
	if got := o.I32(); !slices.Equal(got, want) {
		t.Fatalf("%s: %v\nwant %v", what, got, want)
	}
}

// mvTranslateErr parses and translates n and returns the translation
// error.
func mvTranslateErr(t *testing.T, n *irtest.Net) error {
	t.Helper()
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	_, err = Translate(m, Options{})
	return err
}

// mvExpectUnsupported fails t unless err contains want.
func mvExpectUnsupported(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}

// mvTranslateDynamicRank translates n with the rank of parameter param
// marked unknown (irtest writes only ranked ports) and returns the error.
func mvTranslateDynamicRank(t *testing.T, n *irtest.Net, param string) error {
	t.Helper()
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, l := range m.Parameters() {
		if l.Name == param {
			l.Outputs[0].DynamicRank = true
			l.Outputs[0].Shape = nil
		}
	}
	_, err = Translate(m, Options{})
	return err
}

// TestMovementOpsLoadAtMinOpset checks ONNX Runtime accepts the nodes the
// movement families emit when the graph is built for MinOpset.
func TestMovementOpsLoadAtMinOpset(t *testing.T) {
	initORT(t)
	n := irtest.New("min")
	a := n.Parameter("a", irmodel.F32, "2,?")
	ys := n.Op("VariadicSplit", "opset1", nil, []irtest.Out{a, n.I64(nil, 1), n.I64([]int64{2}, 1, -1)}, irtest.Port{Type: irmodel.F32, Shape: "2,1"}, irtest.Port{Type: irmodel.F32, Shape: "2,?"})
	s := n.Op("Split", "opset1", map[string]string{"num_splits": "2"}, []irtest.Out{ys[1], n.I64(nil, 0)}, irtest.Port{Type: irmodel.F32, Shape: "1,?"}, irtest.Port{Type: irmodel.F32, Shape: "1,?"})
	g := n.Op("Gather", "opset8", map[string]string{"batch_dims": "1"}, []irtest.Out{a, n.Parameter("i", irmodel.I64, "2,1"), n.I64(nil, 1)}, irtest.Port{Type: irmodel.F32, Shape: "2,1"})
	tk := n.Op("TopK", "opset11", map[string]string{"axis": "1", "mode": "max", "sort": "index"}, []irtest.Out{a, n.I64(nil, 1)}, irtest.Port{Type: irmodel.F32, Shape: "2,1"}, irtest.Port{Type: irmodel.I32, Shape: "2,1"})
	ss := n.Op("StridedSlice", "opset1", map[string]string{"begin_mask": "1", "end_mask": "1", "shrink_axis_mask": "0,1"}, []irtest.Out{a, n.I64([]int64{2}, 0, -1), n.I64([]int64{2}, 0, 0)}, irtest.Port{Type: irmodel.F32, Shape: "2"})
	sh := n.Op("ShapeOf", "opset3", map[string]string{"output_type": "i32"}, []irtest.Out{a}, irtest.Port{Type: irmodel.I32, Shape: "2"})
	r := n.Op("Range", "opset4", map[string]string{"output_type": "f32"}, []irtest.Out{n.I64(nil, 0), n.I64(nil, 3), n.I64(nil, 1)}, irtest.Port{Type: irmodel.F32, Shape: "3"})
	for i, o := range []irtest.Out{ys[0], s[0], s[1], g[0], tk[0], tk[1], ss[0], sh[0], r[0]} {
		n.Result(o, "out"+itoa(i))
	}
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Translate(m, Options{Opset: MinOpset})
	if err != nil {
		t.Fatal(err)
	}
	data, err := onnxmodel.Marshal(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ort.NewSession(data, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the opset %d model: %v", MinOpset, err)
	}
	sess.Close()
}
