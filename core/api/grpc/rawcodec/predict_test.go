package rawcodec

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

func shape(d ...int64) *fw.TensorShapeProto {
	sp := &fw.TensorShapeProto{}
	for _, x := range d {
		sp.Dim = append(sp.Dim, &fw.TensorShapeProto_Dim{Size: x})
	}
	return sp
}

func TestLargePredictKeepsTensorContentInPlace(t *testing.T) {
	big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 40000) // 320 KB
	want := &tfspb.PredictRequest{
		ModelSpec: &tfspb.ModelSpec{Name: "m"},
		Inputs: map[string]*fw.TensorProto{
			"big":   {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, int64(len(big)/4)), TensorContent: big},
			"small": {Dtype: fw.DataType_DT_UINT8, TensorShape: shape(3), TensorContent: []byte{9, 8, 7}},
			"typed": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(2), FloatVal: []float32{1, 2}},
			"s":     {Dtype: fw.DataType_DT_STRING, TensorShape: shape(1), StringVal: [][]byte{[]byte("x")}},
		},
		OutputFilter: []string{"o"},
	}
	wire, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, frame := range []int{1, 7, 16384, len(wire)} {
		data := fragments(wire, frame)
		got := &tfspb.PredictRequest{}
		if err := New().Unmarshal(data, got); err != nil {
			t.Fatalf("frame %d: %v", frame, err)
		}
		data.Free() // what gRPC does after Unmarshal: the codec holds its own reference
		raw := TakePredict(got)
		if raw == nil {
			t.Fatalf("frame %d: tensor_content was copied into the message", frame)
		}
		if TakePredict(got) != nil {
			t.Fatal("TakePredict returned the contents twice")
		}
		if len(raw.Content) != 2 {
			t.Fatalf("frame %d: content for %d inputs, want big and small", frame, len(raw.Content))
		}
		for name, tp := range got.Inputs {
			if len(tp.TensorContent) != 0 {
				t.Fatalf("frame %d: input %s kept %d bytes of tensor_content in the message", frame, name, len(tp.TensorContent))
			}
			if c, ok := raw.Content[name]; ok {
				tp.TensorContent = join(c)
			}
		}
		raw.Free()
		if !proto.Equal(got, want) {
			t.Fatalf("frame %d: decoded %v", frame, got)
		}
	}
}

// A small PredictRequest, and one without tensor_content, are decoded the
// standard way and hold nothing.
func TestPredictWithoutContentHoldsNothing(t *testing.T) {
	for _, req := range []*tfspb.PredictRequest{
		{Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorContent: []byte{1, 2, 3, 4}}}},
		{Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, FloatVal: make([]float32, 30000)}}},
	} {
		wire, _ := proto.Marshal(req)
		got := &tfspb.PredictRequest{}
		if err := New().Unmarshal(fragments(wire, 1000), got); err != nil {
			t.Fatal(err)
		}
		if TakePredict(got) != nil || !proto.Equal(got, req) {
			t.Fatalf("%d-byte request: %v", len(wire), got)
		}
	}
}

// Protobuf's rules for fields given more than once: the last entry of an
// input wins (one without tensor_content leaves none), and the value fields
// of one entry merge.
func TestPredictRepeatedFields(t *testing.T) {
	big := make([]byte, 70000)
	entry := func(key string, values ...[]byte) []byte {
		var e []byte
		e = protowire.AppendTag(e, mapKeyField, protowire.BytesType)
		e = protowire.AppendString(e, key)
		for _, v := range values {
			e = protowire.AppendTag(e, mapValueField, protowire.BytesType)
			e = protowire.AppendBytes(e, v)
		}
		var out []byte
		out = protowire.AppendTag(out, predictInputsField, protowire.BytesType)
		return protowire.AppendBytes(out, e)
	}
	tensor := func(tp *fw.TensorProto) []byte { b, _ := proto.Marshal(tp); return b }
	withContent := tensor(&fw.TensorProto{Dtype: fw.DataType_DT_UINT8, TensorContent: big})
	other := append([]byte{}, big...)
	other[0] = 1
	withOther := tensor(&fw.TensorProto{TensorContent: other})
	shapeOnly := tensor(&fw.TensorProto{TensorShape: shape(70000)})
	for name, wire := range map[string][]byte{
		"replaced by an entry without content":    append(entry("a", withContent), entry("a", shapeOnly)...),
		"replaced by an entry with other content": append(entry("a", withContent), entry("a", withOther)...),
		"values merged":                   entry("a", withContent, shapeOnly),
		"values merged, the last content": entry("a", withContent, withOther, shapeOnly),
		"two inputs":                      append(entry("a", withContent), entry("b", withOther)...),
	} {
		std := &tfspb.PredictRequest{}
		if err := proto.Unmarshal(wire, std); err != nil {
			t.Fatal(err)
		}
		got := &tfspb.PredictRequest{}
		if err := New().Unmarshal(fragments(wire, 4096), got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if raw := TakePredict(got); raw != nil {
			for k, c := range raw.Content {
				got.Inputs[k].TensorContent = join(c)
			}
			raw.Free()
		}
		if !proto.Equal(got, std) {
			t.Errorf("%s: split decoded %v, protobuf %v", name, got, std)
		}
	}
}

// A request whose handler never ran (refused by an interceptor) gives its
// received buffers back through FreeUntaken; a message decoded again into
// the same request frees the first one's.
func TestFreeUntaken(t *testing.T) {
	kwire, _ := proto.Marshal(&kpb.ModelInferRequest{RawInputContents: [][]byte{make([]byte, 100000)}})
	pwire, _ := proto.Marshal(&tfspb.PredictRequest{Inputs: map[string]*fw.TensorProto{"b": {TensorContent: make([]byte, 100000)}}})
	for _, tc := range []struct {
		wire []byte
		req  any
	}{{kwire, &kpb.ModelInferRequest{}}, {pwire, &tfspb.PredictRequest{}}} {
		for range 2 {
			data := fragments(tc.wire, 16384)
			if err := New().Unmarshal(data, tc.req); err != nil {
				t.Fatal(err)
			}
			data.Free()
			if Outstanding() != 1 {
				t.Fatalf("%T: %d requests hold buffers, want 1", tc.req, Outstanding())
			}
		}
		FreeUntaken(tc.req)
		if n := Outstanding(); n != 0 {
			t.Fatalf("%T refused: %d requests still hold buffers", tc.req, n)
		}
	}
}
