package irtoonnx

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// ReadValue-3/-6 and Assign-3/-6: OpenVINO's state variables become
// explicit graph inputs and outputs that the caller carries between
// requests.
//
// Each ReadValue adds the graph input StateInputName(variable_id): the
// variable's value before the request, every dimension dynamic. An empty
// tensor (any dimension 0) fed there means "no value yet" (the first
// request, or after a reset), and ReadValue then yields its initial value:
// its input, or zeros of variable_shape for ReadValue-6 without one. An If
// node makes that choice. Each Assign adds the graph output
// StateOutputName(variable_id): the variable's new value, to feed back on
// the next request. Both are listed in Result.Inputs and Result.Outputs
// after the model's own inputs and outputs.

func init() {
	register("ReadValue", opsets(3, 6), "graph input, Size, Equal, If",
		"the variable's previous value is the graph input state_in/<variable_id> (empty: use the initial value)", readValueOp)
	register("Assign", opsets(3, 6), "graph output",
		"the variable's new value is the graph output state_out/<variable_id>", assignOp)
}

// StateInputName is the graph input holding variable id's value before a
// request.
func StateInputName(id string) string { return "state_in/" + id }

// StateOutputName is the graph output holding variable id's value after a
// request.
func StateOutputName(id string) string { return "state_out/" + id }

// IsStateName reports whether name is a state input or output of a
// translated model.
func IsStateName(name string) bool {
	return strings.HasPrefix(name, "state_in/") || strings.HasPrefix(name, "state_out/")
}

func stateVariable(c *Ctx) (string, error) {
	id, ok := c.Attr("variable_id")
	if !ok || id == "" {
		return "", Unsupported("no variable_id")
	}
	return id, nil
}

func readValueOp(c *Ctx) error {
	id, err := stateVariable(c)
	if err != nil {
		return err
	}
	out := c.OutPort(0)
	t := out.Type
	if t == "" && c.NumInputs() > 0 {
		t = c.InType(0)
	}
	if t == "" || t.ONNX() == 0 {
		return Unsupported("variable %q of element type %q", id, t)
	}
	var init Value
	if c.NumInputs() > 0 {
		init = c.In(0)
	} else {
		shape, rankDyn, err := irmodel.ParseShape(c.AttrString("variable_shape", ""))
		if err != nil || rankDyn || !shape.Static() {
			return Unsupported("ReadValue without an initial value and a dynamic variable_shape=%q", c.AttrString("variable_shape", ""))
		}
		init = c.Node("ConstantOfShape", []Value{c.Ints(shape.Sizes()...)},
			onnxmodel.AttrTensor("value", scalarTensorDims(t, 0, []int64{1})))
	}
	name := StateInputName(id)
	var prev Value
	if out.DynamicRank {
		prev = c.g.InputUnranked(name, t.ONNX())
	} else {
		dims := make([]int64, len(out.Shape))
		for i := range dims {
			dims[i] = -1
		}
		prev = c.g.Input(name, t.ONNX(), dims...)
	}
	empty := c.Node("Equal", []Value{c.Node("Size", []Value{prev}), c.Int(0)})
	c.Set(0, c.Node("If", []Value{empty},
		stateBranch(c, "then_branch", init, t), stateBranch(c, "else_branch", prev, t)))
	return nil
}

// stateBranch is an If branch that yields the outer value v.
func stateBranch(c *Ctx, attr string, v Value, t irmodel.ElementType) *onnxpb.AttributeProto {
	out := c.g.Fresh("state_branch")
	g := &onnxpb.GraphProto{
		Name: proto.String(out),
		Node: []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Name: proto.String(out + "_node"), Input: []string{v.Name()}, Output: []string{out}}},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String(out), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(t.ONNX()))}}}}},
	}
	return &onnxpb.AttributeProto{Name: proto.String(attr), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// scalarTensorDims is a tensor of type t and the given dims holding v.
func scalarTensorDims(t irmodel.ElementType, v float64, dims []int64) *onnxpb.TensorProto {
	s := scalarTensor(t, v)
	s.Dims = dims
	return s
}

func assignOp(c *Ctx) error {
	if _, err := stateVariable(c); err != nil {
		return err
	}
	for i := range c.NumOutputs() {
		c.Set(i, c.In(0))
	}
	return nil
}

// stateIO lists the state inputs ReadValue translated and declares the
// state outputs of the Assign layers; Translate calls it once the layers
// and the model's own outputs are done.
func stateIO(g *onnxmodel.Graph, m *irmodel.Model, vals map[*irmodel.Port]Value, res *Result, used map[string]bool) error {
	for _, l := range m.Layers {
		if l.Type != "ReadValue" && l.Type != "Assign" {
			continue
		}
		id := strings.TrimSpace(l.Attrs["variable_id"])
		if l.Type == "ReadValue" {
			p := l.Outputs[0]
			name := StateInputName(id)
			if used[name] {
				return fmt.Errorf("%s: state variable %q is read twice", l, id)
			}
			used[name] = true
			res.Inputs = append(res.Inputs, Tensor{Name: name, Names: []string{name}, Type: p.Type, Shape: p.Shape})
			continue
		}
		src := l.Inputs[0].Source
		name := StateOutputName(id)
		if used[name] {
			return fmt.Errorf("%s: state variable %q is assigned twice", l, id)
		}
		used[name] = true
		t := src.Type
		if t == "" {
			t = l.Inputs[0].Type
		}
		if src.DynamicRank {
			g.OutputUnranked(vals[src], name, t.ONNX())
		} else {
			g.Output(vals[src], name, t.ONNX(), src.Shape.Sizes()...)
		}
		res.Outputs = append(res.Outputs, Tensor{Name: name, Names: []string{name}, Type: t, Shape: src.Shape})
	}
	return nil
}
