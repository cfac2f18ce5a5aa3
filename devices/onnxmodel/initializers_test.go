package onnxmodel

import (
	"bytes"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func TestInitializers(t *testing.T) {
	big := bytes.Repeat([]byte{1, 2, 3, 4}, 256) // 1 KiB
	ext := onnxpb.TensorProto_EXTERNAL
	m := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{
		{Name: proto.String("w"), DataType: proto.Int32(int32(Float32)), Dims: []int64{16, 16}, RawData: big},
		{Name: proto.String("small"), DataType: proto.Int32(int32(Float32)), Dims: []int64{2}, RawData: big[:8]},
		{Name: proto.String("typed"), DataType: proto.Int32(int32(Float32)), Dims: []int64{256}, FloatData: make([]float32, 256)},
		{Name: proto.String("external"), DataType: proto.Int32(int32(Float32)), Dims: []int64{256}, DataLocation: &ext,
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}},
		{Name: proto.String("i64"), DataType: proto.Int32(int32(Int64)), Dims: []int64{128}, RawData: big},
		{Name: proto.String("ext2"), DataType: proto.Int32(int32(Float32)), Dims: []int64{256}, DataLocation: &ext,
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")},
				{Key: proto.String("offset"), Value: proto.String("128")}, {Key: proto.String("length"), Value: proto.String("1024")}}},
	}}}
	sub := &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{{OpType: proto.String("Gemm"), Input: []string{"a", "w"}}}}
	m.Graph.Node = []*onnxpb.NodeProto{
		{OpType: proto.String("MatMul"), Input: []string{"x", "w"}, Output: []string{"y"}},
		{OpType: proto.String("Add"), Domain: proto.String("ai.onnx"), Input: []string{"y", "i64"}, Output: []string{"z"}},
		{OpType: proto.String("If"), Input: []string{"c"}, Attribute: []*onnxpb.AttributeProto{{Name: proto.String("then_branch"), G: sub}}},
	}
	m.Graph.Output = []*onnxpb.ValueInfoProto{{Name: proto.String("i64")}}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Initializers(data, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "w" || got[1].Name != "i64" || got[2].Name != "ext2" {
		t.Fatalf("initializers %+v, want w, i64 and ext2", got)
	}
	if e := got[2].External; e == nil || *e != (ExternalData{Location: "w.bin", Offset: 128, Length: 1024}) || got[2].Raw != nil {
		t.Errorf("ext2: external %+v, raw %d bytes; want w.bin at 128, 1024 bytes", e, len(got[2].Raw))
	}
	if got[0].External != nil {
		t.Errorf("w: external %+v; want inline", got[0].External)
	}
	if got[0].DataType != Float32 || !slices.Equal(got[0].Dims, []int64{16, 16}) || !bytes.Equal(got[0].Raw, big) {
		t.Errorf("w = %v %v %d bytes", got[0].DataType, got[0].Dims, len(got[0].Raw))
	}
	if got[1].DataType != Int64 || !slices.Equal(got[1].Dims, []int64{128}) {
		t.Errorf("i64 = %v %v", got[1].DataType, got[1].Dims)
	}
	wantUses := [][]Use{{{Op: "MatMul", Input: 1}, {Op: "Gemm", Input: 1}}, {{Op: "Add", Input: 1}, {Op: GraphOutputOp}}}
	for i, w := range wantUses {
		if !slices.Equal(got[i].Uses, w) {
			t.Errorf("%s: uses %+v, want %+v", got[i].Name, got[i].Uses, w)
		}
	}
	// The bytes alias the model: nothing is copied.
	if &got[0].Raw[0] != &data[bytes.Index(data, big)] {
		t.Error("raw data copied")
	}

	// A name given twice: protobuf's and the engine's reading differ, so none.
	m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(int32(Float32)), Dims: []int64{256}, RawData: big})
	data, _ = proto.Marshal(m)
	if got, err := Initializers(data, 64); err != nil || got != nil {
		t.Errorf("duplicate name: %v, %v; want none", got, err)
	}
	// Truncated: an error, not a panic.
	if _, err := Initializers(data[:len(data)-10], 64); err == nil {
		t.Error("truncated model: no error")
	}
}

// FuzzInitializers: reading any bytes as a model never panics, and for a
// model protobuf decodes every initializer Initializers returns is the one
// protobuf gives: same name, type, dims and bytes (inline), or the same
// external location, offset and length. (A model protobuf refuses, the engine refuses too; Initializers
// does not check the fields it skips.)
func FuzzInitializers(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	big := bytes.Repeat([]byte{9}, 128)
	m := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
		Node:        []*onnxpb.NodeProto{{OpType: proto.String("MatMul"), Input: []string{"x", "w"}}},
		Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), DataType: proto.Int32(int32(Float32)), Dims: []int64{4, 8}, RawData: big}}}}
	ext := onnxpb.TensorProto_EXTERNAL
	m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("e"), DataType: proto.Int32(int32(Float32)),
		Dims: []int64{32}, DataLocation: &ext, ExternalData: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String("w.bin")}, {Key: proto.String("offset"), Value: proto.String("64")},
			{Key: proto.String("length"), Value: proto.String("128")}}})
	if data, err := proto.Marshal(m); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, model []byte) {
		got, err := Initializers(model, 0)
		if err != nil || len(got) == 0 {
			return
		}
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(model, &m); err != nil {
			return
		}
		byName := map[string]*onnxpb.TensorProto{}
		for _, tp := range m.GetGraph().GetInitializer() {
			if byName[tp.GetName()] != nil {
				t.Fatalf("initializer %q given twice, yet returned", tp.GetName())
			}
			byName[tp.GetName()] = tp
		}
		for _, in := range got {
			tp := byName[in.Name]
			switch {
			case tp == nil:
				t.Fatalf("%q: no such initializer in the decoded model", in.Name)
			case int32(in.DataType) != tp.GetDataType() || !slices.Equal(in.Dims, tp.GetDims()):
				t.Fatalf("%q: %v %v, protobuf says %v %v", in.Name, in.DataType, in.Dims, tp.GetDataType(), tp.GetDims())
			case in.External == nil && !bytes.Equal(in.Raw, tp.GetRawData()):
				t.Fatalf("%q: %d raw bytes, protobuf says %d", in.Name, len(in.Raw), len(tp.GetRawData()))
			case in.External != nil && (tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL || len(tp.GetRawData()) != 0):
				t.Fatalf("%q: external %+v, protobuf says location %v with %d raw bytes", in.Name, in.External, tp.GetDataLocation(), len(tp.GetRawData()))
			case in.External != nil:
				want := ExternalData{}
				for _, e := range tp.GetExternalData() {
					switch e.GetKey() {
					case "location":
						want.Location = e.GetValue()
					case "offset":
						want.Offset, _ = strconv.ParseInt(e.GetValue(), 10, 64)
					case "length":
						want.Length, _ = strconv.ParseInt(e.GetValue(), 10, 64)
					}
				}
				if *in.External != want {
					t.Fatalf("%q: external %+v, protobuf says %+v", in.Name, *in.External, want)
				}
			}
		}
	})
}

// TestInitializersShadowed: an initializer whose name a subgraph's own
// initializer, or a sparse initializer, also has gets a ShadowOp use (a
// session given the name's tensor would use it for both), and a model
// nested deeper than maxGraphDepth is refused rather than walked.
func TestInitializersShadowed(t *testing.T) {
	big := bytes.Repeat([]byte{1, 2, 3, 4}, 256)
	tensor := func(name string) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(Float32)), Dims: []int64{256}, RawData: big}
	}
	branch := &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{tensor("w")},
		Node: []*onnxpb.NodeProto{{OpType: proto.String("MatMul"), Input: []string{"x", "w"}}}}
	m := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
		Initializer:       []*onnxpb.TensorProto{tensor("w"), tensor("v")},
		SparseInitializer: []*onnxpb.SparseTensorProto{{Values: &onnxpb.TensorProto{Name: proto.String("v")}}},
		Node: []*onnxpb.NodeProto{
			{OpType: proto.String("MatMul"), Input: []string{"x", "w"}},
			{OpType: proto.String("MatMul"), Input: []string{"x", "v"}},
			{OpType: proto.String("If"), Input: []string{"c"}, Attribute: []*onnxpb.AttributeProto{{Name: proto.String("then_branch"), G: branch}}},
		}}}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Initializers(data, 64)
	if err != nil || len(got) != 2 {
		t.Fatalf("Initializers: %+v, %v", got, err)
	}
	for _, in := range got {
		if !slices.Contains(in.Uses, Use{Op: ShadowOp}) {
			t.Errorf("%s: uses %+v, want a %s among them", in.Name, in.Uses, ShadowOp)
		}
	}

	// Subgraphs nested past the bound: an error, not a walk down them.
	g := &onnxpb.GraphProto{}
	for range maxGraphDepth + 5 {
		g = &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{{OpType: proto.String("If"),
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("then_branch"), G: g}}}}}
	}
	g.Initializer = []*onnxpb.TensorProto{tensor("w")}
	data, err = proto.Marshal(&onnxpb.ModelProto{Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Initializers(data, 64); err == nil {
		t.Errorf("a model nested %d deep: %d initializers, no error", maxGraphDepth+5, len(got))
	}
}
