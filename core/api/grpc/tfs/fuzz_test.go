package tfs

import (
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
// panic (the write is into exactly the bytes validation sized).
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
		{"b": {Dtype: fw.DataType_DT_BOOL, TensorShape: shape(3), BoolVal: []bool{true}}, "s": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(1)}},
	} {
		wire, err := proto.Marshal(&tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "m"}, Inputs: ins})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := &tfspb.PredictRequest{}
		if proto.Unmarshal(wire, req) != nil {
			return
		}
		budget := tensor.NewBudget(fuzzBudget)
		treq := &tensor.Request{API: tensor.TFS}
		var broadcast int64
		for name, tp := range req.GetInputs() {
			in, err := decodeInput(name, tp, budget)
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
		}
		if broadcast > fuzzBudget {
			t.Fatalf("broadcasts of %d bytes within a %d-byte budget", broadcast, fuzzBudget)
		}
		if tensor.Validate(fuzzModel, treq) != nil {
			return
		}
		for _, in := range treq.Inputs {
			if err := in.WriteTo(make([]byte, in.ByteSize(in.DType)), in.DType); err != nil {
				t.Fatalf("input %s passed validation but: %v", in.Name, err)
			}
		}
	})
}
