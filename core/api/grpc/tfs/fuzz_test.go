package tfs

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// fuzzBudget is small, so that fuzzed broadcasts reach it.
const fuzzBudget = 64 << 10

// fuzzModel is what fuzzed requests are validated against.
var fuzzModel = []device.TensorInfo{
	{Name: "b", DType: device.Float32, Shape: []int64{-1, -1}},
	{Name: "s", DType: device.String, Shape: []int64{2}},
}

// The TFS gRPC decoder sees untrusted messages: any PredictRequest
// decodes to inputs or a memory error, never a panic; a single value is
// broadcast only within the budget (a 44-byte message must not build a
// large tensor); validation and the arena write of what passes do not
// panic (the write is into exactly the bytes validation sized). A request
// whose tensor_content the codec kept in the received buffers (fragments
// of frame+1 bytes here) decodes, validates and writes exactly the same.
func FuzzDecodePredict(f *testing.F) {
	shape := func(d ...int64) *fw.TensorShapeProto {
		sp := &fw.TensorShapeProto{}
		for _, x := range d {
			sp.Dim = append(sp.Dim, &fw.TensorShapeProto_Dim{Size: x})
		}
		return sp
	}
	for _, ins := range []map[string]*fw.TensorProto{
		{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}},
		{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), TensorContent: make([]byte, 40)}},
		{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(8192, 8192), FloatVal: []float32{1}}}, // the 44-byte broadcast
		{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(2, 3), FloatVal: []float32{1}}},
		{"b": {Dtype: fw.DataType_DT_INT64, TensorShape: shape(4), Int64Val: []int64{-1}}},
		{"b": {Dtype: fw.DataType_DT_HALF, TensorShape: shape(2), HalfVal: []int32{0x3c00, 0}}},
		{"s": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(2), StringVal: [][]byte{[]byte("a"), {}}}},
		{"s": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(2), TensorContent: []byte("ab"), StringVal: [][]byte{[]byte("a"), {}}}},
		{"b": {Dtype: fw.DataType_DT_BOOL, TensorShape: shape(3), BoolVal: []bool{true}}, "s": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(1)}},
	} {
		wire, err := proto.Marshal(&tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "m"}, Inputs: ins})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire, uint8(3))
	}
	f.Fuzz(func(t *testing.T, wire []byte, frame uint8) {
		req := &tfspb.PredictRequest{}
		if proto.Unmarshal(wire, req) != nil {
			return
		}
		budget, kept := tensor.NewBudget(fuzzBudget), tensor.NewBudget(fuzzBudget)
		treq, treqKept := &tensor.Request{API: tensor.TFS}, &tensor.Request{API: tensor.TFS}
		var broadcast int64
		for name, tp := range req.GetInputs() {
			in, err := decodeInput(name, tp, nil, budget)
			moved, parts := inFragments(tp, int(frame)+1)
			inKept, errKept := decodeInput(name, moved, parts, kept)
			if message(err) != message(errKept) || in.HasRaw != inKept.HasRaw || in.ByteSize(in.DType) != inKept.ByteSize(inKept.DType) {
				t.Fatalf("input %s: %q has raw %v (%d bytes); kept in fragments: %q, %v (%d bytes)", name,
					message(err), in.HasRaw, in.ByteSize(in.DType), message(errKept), inKept.HasRaw, inKept.ByteSize(inKept.DType))
			}
			if err != nil {
				if _, ok := err.(*tensor.MemoryError); !ok {
					t.Fatalf("input %s: %v is not a memory error", name, err)
				}
				return
			}
			if b, ok := in.Values.(tensor.Broadcast); ok {
				if b.One.Len() != 1 || int64(b.N) != in.Shape.Elements() {
					t.Fatalf("input %s: a broadcast of %d values to %d for shape %v", name, b.One.Len(), b.N, in.Shape)
				}
				broadcast += int64(b.N) * int64(in.DType.Size())
			}
			treq.Inputs = append(treq.Inputs, in)
			treqKept.Inputs = append(treqKept.Inputs, inKept)
		}
		if broadcast > fuzzBudget {
			t.Fatalf("broadcasts of %d bytes within a %d-byte budget", broadcast, fuzzBudget)
		}
		verr, verrKept := tensor.Validate(fuzzModel, treq), tensor.Validate(fuzzModel, treqKept)
		if message(verr) != message(verrKept) {
			t.Fatalf("validation: %q; kept in fragments: %q", message(verr), message(verrKept))
		}
		if verr != nil {
			return
		}
		for i, in := range treq.Inputs {
			dst, dstKept := make([]byte, in.ByteSize(in.DType)), make([]byte, in.ByteSize(in.DType))
			if err := in.WriteTo(dst, in.DType); err != nil {
				t.Fatalf("input %s passed validation but: %v", in.Name, err)
			}
			if err := treqKept.Inputs[i].WriteTo(dstKept, in.DType); err != nil || !bytes.Equal(dst, dstKept) {
				t.Fatalf("input %s kept in fragments: %v, or other bytes", in.Name, err)
			}
		}
	})
}

// inFragments is tp without its tensor_content, and that content cut into
// n-byte fragments (nil when tp has none), as the codec keeps a large
// request's.
func inFragments(tp *fw.TensorProto, n int) (*fw.TensorProto, [][]byte) {
	c := tp.GetTensorContent()
	if c == nil {
		return tp, nil
	}
	moved := proto.Clone(tp).(*fw.TensorProto)
	moved.TensorContent = nil
	parts := [][]byte{}
	for off := 0; off < len(c); off += n {
		parts = append(parts, c[off:min(off+n, len(c))])
	}
	return moved, parts
}

// message is err's text ("" for nil).
func message(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
