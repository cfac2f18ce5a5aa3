package onnxmodel

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// IRVersion is the ONNX IR version written by Graph.Model.
const IRVersion = 8

// Producer is the producer_name written by Graph.Model.
const Producer = "ovms-testmodels"

// Graph builds an ONNX graph. Builder methods never fail on their own: the
// first problem (a duplicate name, an undefined value, a bad dimension) is
// remembered and returned by Model.
type Graph struct {
	name    string
	inputs  []*onnxpb.ValueInfoProto
	outputs []*onnxpb.ValueInfoProto
	nodes   []*onnxpb.NodeProto
	inits   []*onnxpb.TensorProto
	defined map[string]bool
	counter int
	err     error
}

// NewGraph returns an empty graph with the given name.
func NewGraph(name string) *Graph {
	return &Graph{name: name, defined: map[string]bool{}}
}

func (g *Graph) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, args...)
	}
}

// define records a new value name, noting an error for duplicates.
func (g *Graph) define(name string) Value {
	switch {
	case name == "":
		g.fail("empty value name")
	case g.defined[name]:
		g.fail("value %q defined twice", name)
	}
	g.defined[name] = true
	return Value{name: name}
}

// fresh returns a value name not used yet, built from prefix.
func (g *Graph) fresh(prefix string) string {
	for {
		name := fmt.Sprintf("%s_%d", prefix, g.counter)
		g.counter++
		if !g.defined[name] {
			return name
		}
	}
}

// Input declares a graph input of element type t. A dimension of -1 is
// dynamic and becomes the dim_param "<name>_d<i>"; no dims means a scalar.
func (g *Graph) Input(name string, t DataType, dims ...int64) Value {
	tp, err := tensorType(t, name, dims)
	if err != nil {
		g.fail("input %q: %w", name, err)
	}
	g.inputs = append(g.inputs, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: tp})
	return g.define(name)
}

// Constant adds t as an initializer and returns its value. A tensor without
// a name gets a fresh one.
func (g *Graph) Constant(t *onnxpb.TensorProto) Value {
	if t.GetName() == "" {
		t.Name = proto.String(g.fresh("const"))
	}
	if err := checkTensor(t); err != nil {
		g.fail("initializer %q: %w", t.GetName(), err)
	}
	g.inits = append(g.inits, t)
	return g.define(t.GetName())
}

// Node adds a node with one output, named automatically after op.
func (g *Graph) Node(op string, inputs []Value, attrs ...*onnxpb.AttributeProto) Value {
	return g.MultiNode(op, []string{""}, inputs, attrs...)[0]
}

// NamedNode adds a node with one output called output.
func (g *Graph) NamedNode(op, output string, inputs []Value, attrs ...*onnxpb.AttributeProto) Value {
	return g.MultiNode(op, []string{output}, inputs, attrs...)[0]
}

// MultiNode adds a node with len(outputs) outputs; an empty output name is
// replaced by a fresh one. The zero Value in inputs is an omitted optional
// input.
func (g *Graph) MultiNode(op string, outputs []string, inputs []Value, attrs ...*onnxpb.AttributeProto) []Value {
	n := &onnxpb.NodeProto{
		OpType:    proto.String(op),
		Name:      proto.String(fmt.Sprintf("%s_node%d", op, len(g.nodes))),
		Attribute: attrs,
	}
	for _, in := range inputs {
		if in.name != "" && !g.defined[in.name] {
			g.fail("node %s: input %q is not defined", n.GetName(), in.name)
		}
		n.Input = append(n.Input, in.name)
	}
	vals := make([]Value, len(outputs))
	for i, out := range outputs {
		if out == "" {
			out = g.fresh(op)
		}
		vals[i] = g.define(out)
		n.Output = append(n.Output, out)
	}
	g.nodes = append(g.nodes, n)
	return vals
}

// Output declares v as a graph output called name with element type t and
// the given dims (none is a scalar). A dimension of -1 is left unknown,
// neither a size nor a name, so that ONNX Runtime's shape inference fills
// it in: with the symbol of the input dimension it follows, if any (which
// lets a server size the output before the run). When name differs from
// v's name an Identity node is inserted to produce it; an empty name keeps
// v's name.
func (g *Graph) Output(v Value, name string, t DataType, dims ...int64) {
	if !g.defined[v.name] {
		g.fail("output %q: value %q is not defined", name, v.name)
		return
	}
	if name == "" {
		name = v.name
	}
	if name != v.name {
		v = g.NamedNode("Identity", name, []Value{v})
	}
	tp, err := tensorType(t, name, dims)
	if err != nil {
		g.fail("output %q: %w", name, err)
	}
	for _, d := range tp.GetTensorType().GetShape().GetDim() {
		if _, named := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimParam); named {
			d.Value = nil
		}
	}
	g.outputs = append(g.outputs, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: tp})
}

// Model returns the graph as a model with IR version IRVersion importing
// the default ONNX domain at opset, or the first error met while building.
// The model shares nodes and tensors with the graph.
func (g *Graph) Model(opset int64) (*onnxpb.ModelProto, error) {
	if g.err != nil {
		return nil, fmt.Errorf("build graph %q: %w", g.name, g.err)
	}
	if len(g.outputs) == 0 {
		return nil, fmt.Errorf("build graph %q: %w", g.name, errors.New("no outputs"))
	}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String(Producer),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String(g.name),
			Node:        slices.Clone(g.nodes),
			Initializer: slices.Clone(g.inits),
			Input:       slices.Clone(g.inputs),
			Output:      slices.Clone(g.outputs),
		},
	}, nil
}

// InputUnranked declares a graph input of element type t whose rank is
// unknown (no shape in the model).
func (g *Graph) InputUnranked(name string, t DataType) Value {
	g.inputs = append(g.inputs, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: unranked(t)})
	return g.define(name)
}

// OutputUnranked declares v as a graph output called name of element type
// t whose rank is unknown; as Output, a different name inserts Identity.
func (g *Graph) OutputUnranked(v Value, name string, t DataType) {
	if !g.defined[v.name] {
		g.fail("output %q: value %q is not defined", name, v.name)
		return
	}
	if name == "" {
		name = v.name
	}
	if name != v.name {
		v = g.NamedNode("Identity", name, []Value{v})
	}
	g.outputs = append(g.outputs, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: unranked(t)})
}

// Fresh returns a value name not used yet in the graph, built from prefix.
func (g *Graph) Fresh(prefix string) string { return g.fresh(prefix) }

// Err returns the first problem met while building, or nil.
func (g *Graph) Err() error { return g.err }

func unranked(t DataType) *onnxpb.TypeProto {
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(t))}}}
}
