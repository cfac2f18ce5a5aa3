package ortdevice

import (
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/device/devicetest"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func TestOutputTies(t *testing.T) {
	ins := []ort.TensorInfo{
		{Name: "a", Type: ort.Float32, Shape: []int64{-1, 3, -1}, Symbols: []string{"batch", "", "len"}},
		{Name: "b", Type: ort.Float32, Shape: []int64{-1, 2}, Symbols: []string{"batch", "two"}}, // batch: a's wins
		{Name: "c", Type: ort.Float32, Shape: []int64{5}, Symbols: []string{"five"}},             // not dynamic
	}
	outs := []ort.TensorInfo{
		{Name: "tied", Type: ort.Float32, Shape: []int64{-1, 10, -1}, Symbols: []string{"batch", "", "len"}},
		{Name: "static", Type: ort.Float32, Shape: []int64{1, 10}},
		{Name: "unnamed", Type: ort.Float32, Shape: []int64{-1, -1}, Symbols: []string{"batch", ""}},
		{Name: "own", Type: ort.Float32, Shape: []int64{-1}, Symbols: []string{"own_d0"}},
		{Name: "fixedsym", Type: ort.Float32, Shape: []int64{-1}, Symbols: []string{"five"}},
		{Name: "text", Type: ort.String, Shape: []int64{-1}, Symbols: []string{"batch"}},
		{Name: "nosyms", Type: ort.Int64, Shape: []int64{-1}},
	}
	got := outputTies(ins, outs)
	batch := []dimRef{{"a", 0}, {"b", 0}}
	want := map[string]outputTie{"tied": {{srcs: batch}, {size: 10}, {srcs: []dimRef{{"a", 2}}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("outputTies = %+v, want %+v", got, want)
	}
	reqIns := []device.TensorRef{{Name: "b", Shape: []int64{4, 2}}, {Name: "a", Shape: []int64{4, 3, 7}}}
	if shape, ok := got["tied"].shape(reqIns); !ok || !reflect.DeepEqual(shape, []int64{4, 10, 7}) {
		t.Errorf("shape = %v, %v; want [4 10 7]", shape, ok)
	}
	if shape, ok := got["tied"].shape(reqIns[:1]); ok {
		t.Errorf("shape without input a = %v, want none", shape)
	}
	if shape, ok := got["tied"].shape([]device.TensorRef{{Name: "a", Shape: []int64{4}}}); ok {
		t.Errorf("shape with a of rank 1 = %v, want none", shape)
	}
	// a and b give batch different sizes: the request is not tied (the
	// run reports the mismatch, or computes what no tie can size).
	bad := []device.TensorRef{{Name: "b", Shape: []int64{64, 2}}, {Name: "a", Shape: []int64{1, 3, 7}}}
	if shape, ok := got["tied"].shape(bad); ok {
		t.Errorf("shape with a and b disagreeing on batch = %v, want none", shape)
	}
	// The first input of a symbol missing from the request (a stateful
	// model's state input): the others size it.
	y := outputTie{{srcs: []dimRef{{"state", 0}, {"x", 0}}}}
	if shape, ok := y.shape([]device.TensorRef{{Name: "x", Shape: []int64{5}}}); !ok || !reflect.DeepEqual(shape, []int64{5}) {
		t.Errorf("shape from the second input of a symbol = %v, %v; want [5]", shape, ok)
	}
	if n := byteSize(device.Float32, []int64{4, 10, 7}); n != 1120 {
		t.Errorf("byteSize = %d, want 1120", n)
	}
	if n := byteSize(device.Float32, []int64{1 << 40, 1 << 40}); n != -1 {
		t.Errorf("byteSize of an overflowing shape = %d, want -1", n)
	}
}

// writeBatchModel writes y = op(x) for x of shape [-1, 4], with y's
// dimensions declared as dims (nil: left unknown, neither size nor name).
func writeBatchModel(t *testing.T, op string, dims []any) string {
	t.Helper()
	g := om.NewGraph("batch")
	x := g.Input("x", om.Float32, -1, 4)
	var y om.Value
	switch op {
	case "Neg":
		y = g.NamedNode("Neg", "y", []om.Value{x})
	case "Concat": // twice the rows the declared dims say
		y = g.NamedNode("Concat", "y", []om.Value{x, x}, &onnxpb.AttributeProto{
			Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(0)})
	}
	g.Output(y, "y", om.Float32, -1, 4)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		pd := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			pd.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case string:
			pd.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		}
		shape.Dim = append(shape.Dim, pd)
	}
	m.Graph.Output[0].Type.GetTensorType().Shape = shape
	dir := filepath.Join(t.TempDir(), "1")
	if err := om.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	return dir
}

// countCopies counts the outputs the plugin copies after a run.
func countCopies(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	onCopied = func(string) { n.Add(1) }
	t.Cleanup(func() { onCopied = nil })
	return &n
}

func rows(n int) devicetest.Tensor {
	v := make([]float32, 4*n)
	for i := range v {
		v[i] = float32(i)
	}
	return devicetest.Float32("x", []int64{int64(n), 4}, v...)
}

// TestTiedOutputsPreallocated: a dynamic output whose first dimension ONNX
// Runtime ties to the input's (the file leaves it unknown) is written by the
// engine where the answer goes, at every batch size, with no copy after the
// run; one whose file gives it a name of its own is copied as before.
func TestTiedOutputsPreallocated(t *testing.T) {
	requireORT(t)
	copies := countCopies(t)
	h := devicetest.Start(t, Factory(Config{Name: "cpu", Devices: []string{"CPU"}}))
	for _, c := range []struct {
		name   string
		dims   []any
		shapes map[string][]int64
		copies int64
	}{
		{"inferred", []any{nil, nil}, nil, 0},
		{"declared", []any{"x_d0", 4}, nil, 0},
		{"own name", []any{"y_d0", 4}, nil, 1},
		{"reshaped", []any{"y_d0", 4}, map[string][]int64{"x": {-1, 4}}, 0}, // the output's own name cleared
	} {
		key := device.ModelKey{Name: c.name, Version: 1}
		info, err := h.Load(&device.LoadRequest{Model: key, Path: writeBatchModel(t, "Neg", c.dims), TargetDevice: "CPU", Shapes: c.shapes})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: outputs %+v", c.name, info.Outputs)
		for _, n := range []int{1, 3, 16} {
			copies.Store(0)
			out, err := h.Infer(key, []devicetest.Tensor{rows(n)})
			if err != nil {
				t.Fatalf("%s, %d rows: %v", c.name, n, err)
			}
			checkNeg(t, out[0], n)
			if got := copies.Load(); got != c.copies {
				t.Errorf("%s, %d rows: %d outputs copied after the run, want %d", c.name, n, got, c.copies)
			}
		}
		if n := h.Allocations(); n != 0 {
			t.Errorf("%s: %d plugin-zone buffers left", c.name, n)
		}
	}
}

func checkNeg(t *testing.T, out devicetest.Tensor, n int) {
	t.Helper()
	if !reflect.DeepEqual(out.Shape, []int64{int64(n), 4}) {
		t.Fatalf("y shape %v, want [%d 4]", out.Shape, n)
	}
	for i, v := range out.Float32s() {
		if v != -float32(i) {
			t.Fatalf("y[%d] = %v, want %v", i, v, -float32(i))
		}
	}
}

// TestWrongTieFallsBack: a model whose output is declared with the input's
// batch symbol but has twice its rows still answers right: the run that
// finds the preallocated output too small is repeated with ONNX Runtime
// allocating it, the arena buffer is given back, and the model's outputs are
// no longer preallocated from then on.
func TestWrongTieFallsBack(t *testing.T) {
	requireORT(t)
	copies := countCopies(t)
	h := devicetest.Start(t, Factory(Config{Name: "cpu", Devices: []string{"CPU"}}))
	key := device.ModelKey{Name: "liar", Version: 1}
	if _, err := h.Load(&device.LoadRequest{Model: key, Path: writeBatchModel(t, "Concat", []any{"x_d0", 4}), TargetDevice: "CPU"}); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		copies.Store(0)
		out, err := h.Infer(key, []devicetest.Tensor{rows(2)})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want := []float32{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7}
		if !reflect.DeepEqual(out[0].Shape, []int64{4, 4}) || !reflect.DeepEqual(out[0].Float32s(), want) {
			t.Fatalf("round %d: y = %v %v, want [4 4] %v", round, out[0].Shape, out[0].Float32s(), want)
		}
		if got := copies.Load(); got != 1 {
			t.Errorf("round %d: %d outputs copied, want 1", round, got)
		}
		if n := h.Allocations(); n != 0 {
			t.Errorf("round %d: %d plugin-zone buffers left", round, n)
		}
	}
}
