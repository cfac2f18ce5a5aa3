package onnxmodel

import (
	"reflect"
	"testing"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// TestEmptyUnsafeOps finds LSTM in a graph, GRU in an If branch and
// ConvTranspose in a local function, and nothing in a plain model.
func TestEmptyUnsafeOps(t *testing.T) {
	plain := NewGraph("plain")
	x := plain.Input("x", Float32, -1, 4)
	plain.Output(plain.NamedNode("Relu", "y", []Value{x}), "y", Float32, -1, 4)
	m, err := plain.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := Marshal(m)
	if ops, err := EmptyUnsafeOps(data); err != nil || len(ops) != 0 {
		t.Fatalf("plain model: %v %v", ops, err)
	}

	branch := func(op string) *onnxpb.GraphProto {
		g := NewGraph("branch")
		in := g.Input("s", Float32, 1, 1, 8)
		w := g.Constant(Float32Tensor("w", []int64{1, 24, 8}, make([]float32, 24*8)))
		r := g.Constant(Float32Tensor("r", []int64{1, 24, 8}, make([]float32, 24*8)))
		g.Output(g.NamedNode(op, "o", []Value{in, w, r}, AttrInt("hidden_size", 8)), "o", Float32)
		bm, err := g.Model(13)
		if err != nil {
			t.Fatal(err)
		}
		return bm.GetGraph()
	}
	g := NewGraph("nested")
	c := g.Input("c", Bool)
	s := g.Input("s", Float32, 1, 1, 8)
	w := g.Constant(Float32Tensor("w", []int64{1, 32, 8}, make([]float32, 32*8)))
	r := g.Constant(Float32Tensor("r", []int64{1, 32, 8}, make([]float32, 32*8)))
	l := g.Node("LSTM", []Value{s, w, r}, AttrInt("hidden_size", 8))
	g.Output(l, "l", Float32)
	g.Output(g.NamedNode("If", "i", []Value{c},
		&onnxpb.AttributeProto{Name: new("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: branch("GRU")},
		&onnxpb.AttributeProto{Name: new("else_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: branch("GRU")}), "i", Float32)
	nm, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	nm.Functions = []*onnxpb.FunctionProto{{Name: new("f"), Domain: new("local"),
		Node: []*onnxpb.NodeProto{{OpType: new("ConvTranspose"), Input: []string{"a", "b"}, Output: []string{"y"}}}}}
	data, _ = Marshal(nm)
	ops, err := EmptyUnsafeOps(data)
	if err != nil || !reflect.DeepEqual(ops, []string{"ConvTranspose", "GRU", "LSTM"}) {
		t.Fatalf("nested model: %v %v", ops, err)
	}
	if _, err := EmptyUnsafeOps([]byte{0x3a, 0x05, 0x0a}); err == nil {
		t.Fatal("a truncated model was read")
	}
}
