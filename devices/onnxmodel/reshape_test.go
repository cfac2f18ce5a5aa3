package onnxmodel

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func twoInputModel(t *testing.T) []byte {
	t.Helper()
	g := NewGraph("two")
	a := g.Input("a", Float32, 1, 3, 4, 5)
	b := g.Input("b", Float32, 1, 3, 4, 5)
	g.Output(g.NamedNode("Add", "sum", []Value{a, b}), "sum", Float32, 1, 3, 4, 5)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func inputDims(t *testing.T, data []byte) map[string][]int64 {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string][]int64{}
	for _, in := range m.GetGraph().GetInput() {
		out[in.GetName()] = dims(in)
	}
	return out
}

func TestApplyReshape(t *testing.T) {
	data := twoInputModel(t)
	out, err := ApplyReshape(data, Reshape{Shapes: map[string][]int64{"a": {2, 3, -1, -1}}, BatchSize: 4, Layouts: map[string]string{"b": "NHWC:NCHW"}})
	if err != nil {
		t.Fatal(err)
	}
	d := inputDims(t, out)
	if got := d["a"]; len(got) != 4 || got[0] != 2 || got[2] != -1 {
		t.Errorf("a: %v (the shape wins over the batch size)", got)
	}
	if got := d["b"]; len(got) != 4 || got[0] != 4 || got[1] != 4 || got[2] != 5 || got[3] != 3 {
		t.Errorf("b: %v, want [4 4 5 3] (batch 4, NHWC)", got)
	}
	var m onnxpb.ModelProto
	_ = proto.Unmarshal(out, &m)
	if n := m.GetGraph().GetNode()[0]; n.GetOpType() != "Transpose" || len(n.GetAttribute()[0].GetInts()) != 4 || n.GetAttribute()[0].GetInts()[1] != 3 {
		t.Errorf("first node %v, want a Transpose with perm [0 3 1 2]", n)
	}
	for _, c := range []struct {
		r    Reshape
		want string
	}{
		{Reshape{Shapes: map[string][]int64{"": {1, 2}}}, "Anonymous fixed shape is invalid for models with multiple inputs"},
		{Reshape{Shapes: map[string][]int64{"nope": {1}}}, `Shape from config not found in model - input "nope"`},
		{Reshape{Layouts: map[string]string{"a": "NHWC:NCH"}}, `The provided layout is in wrong format - "NHWC:NCH" for an input of 4 dimensions`},
		{Reshape{Layouts: map[string]string{"a": "NHWC:NCHD"}}, `Layout incompatible with given shape - "NHWC:NCHD" converts between different dimensions`},
		{Reshape{Shapes: map[string][]int64{"a": {1, 2}}, Layouts: map[string]string{"a": "NHWC:NCHW"}}, `Layout incompatible with given shape - "NHWC:NCHW" for an input of 2 dimensions`},
	} {
		_, err := ApplyReshape(data, c.r)
		var re *ReshapeError
		if !errors.As(err, &re) || err.Error() != c.want {
			t.Errorf("%+v: %v, want %q", c.r, err, c.want)
		}
	}
	if _, err := ApplyReshape(nil, Reshape{BatchSize: 1}); err == nil || err.Error() != "parsing the model: no graph" {
		t.Errorf("a model without a graph: %v", err)
	}
}
