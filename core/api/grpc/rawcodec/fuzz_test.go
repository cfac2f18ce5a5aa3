package rawcodec

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// The codec's own decoding of large requests (split) must agree with the
// standard protobuf decoding on any message, in any framing: the same
// request, the raw contents as fragments of the received buffers, and no
// more memory than the message.
func FuzzSplitAgreesWithProto(f *testing.F) {
	real := &kpb.ModelInferRequest{
		ModelName: "dummy", ModelVersion: "1", Id: "r",
		Parameters: map[string]*kpb.InferParameter{"p": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: true}}},
		Inputs: []*kpb.ModelInferRequest_InferInputTensor{
			{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}},
			{Name: "s", Datatype: "BYTES", Shape: []int64{2}, Contents: &kpb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), {}}}},
		},
		Outputs:          []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "a"}},
		RawInputContents: [][]byte{bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 10)},
	}
	wire, err := proto.Marshal(real)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wire, uint16(7))
	f.Add(wire, uint16(16384))
	f.Add([]byte{0x3a, 0x00, 0x3a, 0x02, 1, 2}, uint16(1))       // two raw buffers, one empty
	f.Add([]byte{0x0b, 0x0c}, uint16(3))                         // an empty group
	f.Add([]byte{0x38, 0x05}, uint16(2))                         // field 7 as a varint
	f.Add([]byte{0x0a, 0x7f, 0x0a}, uint16(1))                   // a length past the end
	f.Add([]byte{0x0a, 0x02, 0xff, 0xfe}, uint16(1))             // invalid UTF-8 in a string
	f.Add([]byte{0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00}, uint16(2)) // the largest field number
	f.Fuzz(func(t *testing.T, wire []byte, frame uint16) {
		std := &kpb.ModelInferRequest{}
		stdErr := proto.Unmarshal(wire, std)
		data := fragments(wire, int(frame%4096)+1)
		defer data.Free()
		parts, rest, err := split(data)
		if err != nil {
			// Unmarshal then falls back to the standard decoding.
			got := &kpb.ModelInferRequest{}
			if gerr := New().unmarshalLarge(data, got); (gerr == nil) != (stdErr == nil) {
				t.Fatalf("fallback: %v, standard: %v", gerr, stdErr)
			}
			return
		}
		if len(rest) > len(wire) {
			t.Fatalf("rest holds %d bytes of a %d-byte message", len(rest), len(wire))
		}
		got := &kpb.ModelInferRequest{}
		gerr := proto.Unmarshal(rest, got)
		if (gerr == nil) != (stdErr == nil) {
			t.Fatalf("split: %v, standard: %v", gerr, stdErr)
		}
		if gerr != nil {
			return
		}
		if len(parts) != len(std.RawInputContents) {
			t.Fatalf("%d raw buffers, standard %d", len(parts), len(std.RawInputContents))
		}
		for i, p := range parts {
			var joined []byte
			for _, frag := range p {
				joined = append(joined, frag...)
			}
			if !bytes.Equal(joined, std.RawInputContents[i]) {
				t.Fatalf("raw buffer %d differs", i)
			}
		}
		got.RawInputContents = std.RawInputContents
		// Unknown fields may differ in their bytes: split re-encodes
		// varints minimally.
		dropUnknown(got.ProtoReflect())
		dropUnknown(std.ProtoReflect())
		if !proto.Equal(got, std) {
			t.Fatalf("split decoded %v, standard %v", got, std)
		}
	})
}

// dropUnknown clears the unknown fields of m and of the messages in it.
func dropUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				dropUnknown(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				dropUnknown(mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			dropUnknown(v.Message())
		}
		return true
	})
}

// The codec's own decoding of large PredictRequests (splitPredict) must
// agree with the standard protobuf decoding on any message, in any framing:
// the same request once each input's tensor_content is put back, and no
// more memory than the message.
func FuzzSplitPredictAgreesWithProto(f *testing.F) {
	real := &tfspb.PredictRequest{
		ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
		Inputs: map[string]*fw.TensorProto{
			"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), TensorContent: bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 10)},
			"c": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(2), FloatVal: []float32{1, 2}},
			"s": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(1), StringVal: [][]byte{[]byte("x")}},
		},
		OutputFilter: []string{"a"},
	}
	wire, err := proto.Marshal(real)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wire, uint16(7))
	f.Add(wire, uint16(16384))
	f.Add([]byte{0x12, 0x04, 0x12, 0x02, 0x22, 0x00}, uint16(1))             // an entry: no key, an empty tensor_content
	f.Add([]byte{0x12, 0x06, 0x0a, 0x01, 0x61, 0x10, 0x01, 0x00}, uint16(2)) // a value given as a varint
	f.Add([]byte{0x12, 0x05, 0x12, 0x03, 0x20, 0x05, 0x00}, uint16(3))       // tensor_content as a varint
	f.Add([]byte{0x12, 0x03, 0x0a, 0x01, 0xff}, uint16(1))                   // a key of invalid UTF-8
	f.Add([]byte{0x12, 0x04, 0x12, 0x02, 0x0b, 0x0c}, uint16(1))             // a group in a value
	f.Fuzz(func(t *testing.T, wire []byte, frame uint16) {
		std := &tfspb.PredictRequest{}
		stdErr := proto.Unmarshal(wire, std)
		data := fragments(wire, int(frame%4096)+1)
		defer data.Free()
		content, rest, err := splitPredict(data)
		if err != nil {
			// Unmarshal then falls back to the standard decoding.
			got := &tfspb.PredictRequest{}
			if gerr := New().unmarshalLargePredict(data, got); (gerr == nil) != (stdErr == nil) {
				t.Fatalf("fallback: %v, standard: %v", gerr, stdErr)
			}
			if r := TakePredict(got); r != nil {
				t.Fatal("the fallback held contents")
			}
			return
		}
		if len(rest) > len(wire) {
			t.Fatalf("rest holds %d bytes of a %d-byte message", len(rest), len(wire))
		}
		got := &tfspb.PredictRequest{}
		gerr := proto.Unmarshal(rest, got)
		if (gerr == nil) != (stdErr == nil) {
			t.Fatalf("split: %v, standard: %v", gerr, stdErr)
		}
		if gerr != nil {
			return
		}
		for name, tp := range got.Inputs {
			if len(tp.TensorContent) != 0 {
				t.Fatalf("input %q kept tensor_content in the message", name)
			}
		}
		for name, c := range content {
			tp, ok := got.Inputs[name]
			if !ok {
				t.Fatalf("tensor_content for %q, which the request does not have", name)
			}
			tp.TensorContent = join(c)
		}
		dropUnknown(got.ProtoReflect())
		dropUnknown(std.ProtoReflect())
		if !proto.Equal(got, std) {
			t.Fatalf("split decoded %v, standard %v", got, std)
		}
	})
}
