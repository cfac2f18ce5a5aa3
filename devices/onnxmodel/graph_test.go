package onnxmodel

import (
	"strings"
	"testing"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// dimsOf renders a value info's shape as ints, with dim_param as -1, and
// the dim_params separately.
func dimsOf(t *testing.T, vi *onnxpb.ValueInfoProto) ([]int64, []string) {
	t.Helper()
	shape := vi.GetType().GetTensorType().GetShape()
	if shape == nil {
		t.Fatalf("%s: no shape", vi.GetName())
	}
	dims := []int64{}
	params := []string{}
	for _, d := range shape.GetDim() {
		if p := d.GetDimParam(); p != "" {
			dims = append(dims, -1)
			params = append(params, p)
			continue
		}
		dims = append(dims, d.GetDimValue())
	}
	return dims, params
}

func equalDims(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGraphRoundTrip(t *testing.T) {
	g := NewGraph("test")
	x := g.Input("x", Float32, -1, 3)
	s := g.Input("s", Float32)
	one := g.Constant(Float32Tensor("one", []int64{1}, []float32{1}))
	shape := g.Constant(Int64Tensor("", []int64{2}, []int64{-1, 3}))
	sum := g.Node("Add", []Value{x, one})
	r := g.NamedNode("Reshape", "reshaped", []Value{sum, shape})
	g.Output(r, "y", Float32, -1, 3)
	g.Output(s, "", Float32)

	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.GetIrVersion() != IRVersion || back.GetProducerName() != Producer {
		t.Errorf("ir_version %d producer %q", back.GetIrVersion(), back.GetProducerName())
	}
	if ops := back.GetOpsetImport(); len(ops) != 1 || ops[0].GetDomain() != "" || ops[0].GetVersion() != 13 {
		t.Errorf("opset_import = %v", ops)
	}
	gr := back.GetGraph()
	if len(gr.GetInput()) != 2 || gr.GetInput()[0].GetName() != "x" || gr.GetInput()[1].GetName() != "s" {
		t.Fatalf("inputs = %v", gr.GetInput())
	}
	dims, params := dimsOf(t, gr.GetInput()[0])
	if !equalDims(dims, []int64{-1, 3}) || len(params) != 1 || params[0] != "x_d0" {
		t.Errorf("x dims %v params %v", dims, params)
	}
	if dims, _ := dimsOf(t, gr.GetInput()[1]); len(dims) != 0 {
		t.Errorf("scalar input has dims %v", dims)
	}
	if et := gr.GetInput()[0].GetType().GetTensorType().GetElemType(); et != int32(Float32) {
		t.Errorf("elem type %d", et)
	}
	inits := gr.GetInitializer()
	if len(inits) != 2 || inits[0].GetName() != "one" || !strings.HasPrefix(inits[1].GetName(), "const_") {
		t.Fatalf("initializers = %v", inits)
	}
	if got := DataType(inits[1].GetDataType()); got != Int64 || len(inits[1].GetRawData()) != 16 {
		t.Errorf("shape initializer %s with %d bytes", got, len(inits[1].GetRawData()))
	}
	var ops []string
	for _, n := range gr.GetNode() {
		ops = append(ops, n.GetOpType()+":"+strings.Join(n.GetOutput(), ","))
	}
	if want := "Add:Add_1 Reshape:reshaped Identity:y"; strings.Join(ops, " ") != want {
		t.Errorf("nodes = %v, want %s", ops, want)
	}
	outs := gr.GetOutput()
	if len(outs) != 2 || outs[0].GetName() != "y" || outs[1].GetName() != "s" {
		t.Fatalf("outputs = %v", outs)
	}
}

func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(g *Graph)
		want  string
	}{
		{"duplicate", func(g *Graph) {
			x := g.Input("x", Float32, 1)
			g.Input("x", Float32, 1)
			g.Output(x, "y", Float32, 1)
		}, `value "x" defined twice`},
		{"undefined input", func(g *Graph) {
			g.Output(g.Node("Relu", []Value{{name: "nope"}}), "y", Float32, 1)
		}, `input "nope" is not defined`},
		{"bad dim", func(g *Graph) {
			g.Output(g.Input("x", Float32, -2), "y", Float32, 1)
		}, "dimension 0"},
		{"bad raw size", func(g *Graph) {
			c := g.Constant(Float32Tensor("c", []int64{2, 2}, []float32{1}))
			g.Output(c, "y", Float32, 2, 2)
		}, "raw_data has 4 bytes, want 16"},
		{"no outputs", func(g *Graph) { g.Input("x", Float32, 1) }, "no outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGraph(tc.name)
			tc.build(g)
			_, err := g.Model(13)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMultiNodeAndOptionalInput(t *testing.T) {
	g := NewGraph("split")
	x := g.Input("x", Float32, 4)
	outs := g.MultiNode("Split", []string{"a", ""}, []Value{x, {}}, AttrInt("axis", 0))
	g.Output(outs[0], "", Float32, 2)
	g.Output(outs[1], "b", Float32, 2)
	m, err := g.Model(18)
	if err != nil {
		t.Fatal(err)
	}
	n := m.GetGraph().GetNode()[0]
	if len(n.GetInput()) != 2 || n.GetInput()[1] != "" || n.GetOutput()[0] != "a" || n.GetOutput()[1] == "" {
		t.Errorf("split node = %v", n)
	}
	if a := n.GetAttribute()[0]; a.GetName() != "axis" || a.GetType() != onnxpb.AttributeProto_INT || a.GetI() != 0 {
		t.Errorf("attribute = %v", a)
	}
}
