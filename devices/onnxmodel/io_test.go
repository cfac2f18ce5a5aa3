package onnxmodel

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

func TestWriteFileLoad(t *testing.T) {
	g := NewGraph("dummy")
	b := g.Input("b", Float32, 1, 10)
	one := g.Constant(Float32Tensor("one", []int64{1, 1}, []float32{1}))
	g.Output(g.NamedNode("Add", "a", []Value{b, one}), "a", Float32, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dummy", "1", "model.onnx")
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Marshal(m)
	got, _ := Marshal(back)
	if !bytes.Equal(got, want) {
		t.Error("loaded model differs from the written one")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.onnx")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	if _, err := Parse([]byte("not a model")); err == nil {
		t.Error("Parse of garbage succeeded")
	}
}

func TestSetInputShape(t *testing.T) {
	g := NewGraph("g")
	x := g.Input("x", Uint8, 1, 10)
	g.Output(x, "y", Uint8, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dims   []int64
		params []string
	}{
		{[]int64{-1, 10}, []string{"x_d0"}},
		{[]int64{2, 3, -1}, []string{"x_d2"}},
		{nil, nil},
	}
	for _, tc := range tests {
		if err := SetInputShape(m, "x", tc.dims); err != nil {
			t.Fatal(err)
		}
		in := m.GetGraph().GetInput()[0]
		dims, params := dimsOf(t, in)
		if !equalDims(dims, tc.dims) || len(params) != len(tc.params) || (len(params) > 0 && params[0] != tc.params[0]) {
			t.Errorf("SetInputShape(%v): dims %v params %v", tc.dims, dims, params)
		}
		if et := DataType(in.GetType().GetTensorType().GetElemType()); et != Uint8 {
			t.Errorf("elem type changed to %s", et)
		}
	}
	if err := SetInputShape(m, "nope", []int64{1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown input: err = %v", err)
	}
	if err := SetInputShape(m, "x", []int64{-5}); err == nil {
		t.Error("dimension -5 accepted")
	}
}

func TestClearOutputShapes(t *testing.T) {
	g := NewGraph("g")
	g.Output(g.Node("Relu", []Value{g.Input("x", Float32, 1, 10)}), "y", Float32, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	m.GetGraph().ValueInfo = m.GetGraph().GetOutput()[:1]
	ClearOutputShapes(m)
	out := m.GetGraph().GetOutput()[0].GetType().GetTensorType()
	if out.GetShape() != nil || DataType(out.GetElemType()) != Float32 {
		t.Errorf("output type after ClearOutputShapes = %v", out)
	}
	if len(m.GetGraph().GetValueInfo()) != 0 {
		t.Error("value_info kept")
	}
	if dims, _ := dimsOf(t, m.GetGraph().GetInput()[0]); !equalDims(dims, []int64{1, 10}) {
		t.Errorf("input dims changed to %v", dims)
	}
}
