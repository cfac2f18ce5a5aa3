package rawcodec

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// fragments cuts b into pooled buffers of n bytes, as gRPC's transport
// hands a message over in HTTP/2 frames.
func fragments(b []byte, n int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		k := min(n, len(b))
		out = append(out, mem.Copy(b[:k], mem.DefaultBufferPool()))
		b = b[k:]
	}
	return out
}

func TestLargeRequestsKeepRawContentsInPlace(t *testing.T) {
	big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 40000) // 280 KB
	small := []byte("tiny")
	want := &kpb.ModelInferRequest{
		ModelName: "m", ModelVersion: "2", Id: "req",
		Parameters: map[string]*kpb.InferParameter{"p": {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: -3}}},
		Inputs: []*kpb.ModelInferRequest_InferInputTensor{
			{Name: "a", Datatype: "UINT8", Shape: []int64{int64(len(big))}},
			{Name: "b", Datatype: "UINT8", Shape: []int64{4}},
		},
		Outputs:          []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "o"}},
		RawInputContents: [][]byte{big, small},
	}
	wire, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, frame := range []int{1, 7, 16384, len(wire)} {
		data := fragments(wire, frame)
		got := &kpb.ModelInferRequest{}
		if err := New().Unmarshal(data, got); err != nil {
			t.Fatalf("frame %d: %v", frame, err)
		}
		data.Free() // what gRPC does after Unmarshal: the codec holds its own reference
		raw := Take(got)
		if raw == nil || len(got.RawInputContents) != 0 {
			t.Fatalf("frame %d: raw contents were copied into the message", frame)
		}
		if Take(got) != nil {
			t.Fatal("Take returned the contents twice")
		}
		for i, w := range want.RawInputContents {
			var joined []byte
			for _, f := range raw.Parts[i] {
				joined = append(joined, f...)
			}
			if !bytes.Equal(joined, w) {
				t.Fatalf("frame %d: raw input %d differs", frame, i)
			}
		}
		raw.Free()
		got.RawInputContents = want.RawInputContents
		if !proto.Equal(got, want) {
			t.Fatalf("frame %d: decoded %v", frame, got)
		}
	}
}

func TestSmallAndOtherMessagesTakeTheStandardPath(t *testing.T) {
	want := &kpb.ModelInferRequest{ModelName: "m", RawInputContents: [][]byte{[]byte("abc")}}
	wire, _ := proto.Marshal(want)
	got := &kpb.ModelInferRequest{}
	if err := New().Unmarshal(fragments(wire, 2), got); err != nil {
		t.Fatal(err)
	}
	if Take(got) != nil || !proto.Equal(got, want) {
		t.Fatalf("small request: %v", got)
	}
	md := &kpb.ModelMetadataRequest{Name: "x"}
	wire, _ = proto.Marshal(md)
	var back kpb.ModelMetadataRequest
	if err := New().Unmarshal(fragments(wire, 3), &back); err != nil || back.Name != "x" {
		t.Fatalf("other message: %v %v", &back, err)
	}
}

func TestTruncatedMessagesFail(t *testing.T) {
	big := &kpb.ModelInferRequest{RawInputContents: [][]byte{make([]byte, 100000)}}
	wire, _ := proto.Marshal(big)
	for _, cut := range []int{1, 3, len(wire) - 1} {
		data := fragments(wire[:len(wire)-cut], 4096)
		if len(wire)-cut < minAlias {
			continue
		}
		if err := New().Unmarshal(data, &kpb.ModelInferRequest{}); err == nil {
			t.Errorf("message cut by %d bytes decoded", cut)
		}
	}
}
