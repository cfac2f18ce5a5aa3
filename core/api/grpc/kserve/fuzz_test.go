package kserve

import (
	"bytes"
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// fuzzBudget is small, so that fuzzed requests reach it.
const fuzzBudget = 1 << 10

// fuzzModel is what fuzzed requests are validated against.
var fuzzModel = []device.TensorInfo{
	{Name: "b", DType: device.Float32, Shape: []int64{1, 10}},
	{Name: "s", DType: device.String, Shape: []int64{-1}},
}

// The KServe gRPC decoder sees untrusted messages: any ModelInferRequest
// decodes to inputs or an error, never a panic; raw contents given whole
// or as fragments (as the server codec keeps them) decode alike; raw BYTES
// keep at most the declared number of elements, in views charged to the
// budget; validation and the arena write of what passes do not panic.
func FuzzDecodeInputs(f *testing.F) {
	strs := func(ss ...string) []byte {
		var b []byte
		for _, s := range ss {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b
	}
	for _, req := range []*kpb.ModelInferRequest{
		{ModelName: "dummy", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
			RawInputContents: [][]byte{bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 10)}},
		{ModelName: "dummy", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10},
			Contents: &kpb.InferTensorContents{Fp32Contents: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}}},
		{ModelName: "s", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "s", Datatype: "BYTES", Shape: []int64{2}}},
			RawInputContents: [][]byte{strs("hello", "")}},
		{ModelName: "s", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "s", Datatype: "BYTES", Shape: []int64{1}}},
			RawInputContents: [][]byte{bytes.Repeat([]byte{0, 0, 0, 0}, 500)}}, // 500 strings for 1
		{ModelName: "s", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "s", Datatype: "BYTES", Shape: []int64{300}}},
			RawInputContents: [][]byte{bytes.Repeat([]byte{0, 0, 0, 0}, 300)}}, // past the budget
		{ModelName: "s", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "s", Datatype: "BYTES", Shape: []int64{2},
			Contents: &kpb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), []byte("b")}}}}},
		{ModelName: "two", Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}, {Name: "s", Datatype: "BYTES", Shape: []int64{1}}},
			RawInputContents: [][]byte{make([]byte, 40), strs("x")}},
	} {
		wire, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire, uint8(3))
	}
	f.Fuzz(func(t *testing.T, wire []byte, frame uint8) {
		req := &kpb.ModelInferRequest{}
		if proto.Unmarshal(wire, req) != nil {
			return
		}
		whole, _, werr := DecodeInputs(req.GetInputs(), req.GetRawInputContents(), nil, nil, tensor.NewBudget(fuzzBudget))
		var parts [][][]byte
		for _, raw := range req.GetRawInputContents() {
			var frags [][]byte
			for off := 0; off < len(raw); off += int(frame) + 1 {
				frags = append(frags, raw[off:min(off+int(frame)+1, len(raw))])
			}
			if frags == nil {
				frags = [][]byte{}
			}
			parts = append(parts, frags)
		}
		fragged, _, ferr := DecodeInputs(req.GetInputs(), nil, parts, nil, tensor.NewBudget(fuzzBudget))
		if message(werr) != message(ferr) {
			t.Fatalf("whole: %q, fragments: %q", message(werr), message(ferr))
		}
		if werr != nil {
			return
		}
		for i := range whole {
			w, g := whole[i], fragged[i]
			if w.RawLen() != g.RawLen() || w.Excess != g.Excess || len(w.Strings) != len(g.Strings) {
				t.Fatalf("input %s: raw %d/%d excess %d/%d strings %d/%d", w.Name, w.RawLen(), g.RawLen(), w.Excess, g.Excess, len(w.Strings), len(g.Strings))
			}
			for j := range w.Strings {
				if !bytes.Equal(w.Strings[j], g.Strings[j]) {
					t.Fatalf("input %s: string %d differs", w.Name, j)
				}
			}
			if len(req.GetRawInputContents()) > 0 && w.DType == device.String {
				if n := w.Shape.Elements(); n >= 0 && int64(len(w.Strings)) > n {
					t.Fatalf("input %s kept %d strings for shape %v", w.Name, len(w.Strings), w.Shape)
				}
				if int64(cap(w.Strings))*tensor.StringOverhead > fuzzBudget {
					t.Fatalf("input %s holds %d string views past the budget", w.Name, cap(w.Strings))
				}
			}
		}
		treq := &tensor.Request{API: tensor.KServe, Inputs: fragged}
		if tensor.Validate(fuzzModel, treq) != nil {
			return
		}
		for _, in := range treq.Inputs {
			dst := make([]byte, in.ByteSize(in.DType))
			if err := in.WriteTo(dst, in.DType); err != nil {
				t.Fatalf("input %s passed validation but: %v", in.Name, err)
			}
		}
	})
}

func message(err error) string {
	if err == nil {
		return ""
	}
	if e := apierr.From(err); e != nil {
		return e.Error()
	}
	return err.Error()
}
