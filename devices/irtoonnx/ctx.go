package irtoonnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ovmsgo/ovms/core/tensor/f16"
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Value is an ONNX value in the graph being built.
type Value = onnxmodel.Value

// Ctx is what a translator sees of its layer and of the graph being built.
type Ctx struct {
	// L is the layer being translated.
	L     *irmodel.Layer
	g     *onnxmodel.Graph
	opset int64
	vals  map[*irmodel.Port]Value
	set   []bool
}

// Opset is the ONNX opset the graph is built for.
func (c *Ctx) Opset() int64 { return c.opset }

// NumInputs is the number of the layer's input ports.
func (c *Ctx) NumInputs() int { return len(c.L.Inputs) }

// In is the ONNX value feeding input port i.
func (c *Ctx) In(i int) Value { return c.vals[c.input(i).Source] }

// input is input port i. A layer with fewer inputs panics with a message
// naming the missing one, which translateLayer reports as the error.
func (c *Ctx) input(i int) *irmodel.Port {
	if i < 0 || i >= len(c.L.Inputs) {
		panic(fmt.Sprintf("input %d is missing (the layer has %d)", i, len(c.L.Inputs)))
	}
	return c.L.Inputs[i]
}

// output is output port i, with the same check as input.
func (c *Ctx) output(i int) *irmodel.Port {
	if i < 0 || i >= len(c.L.Outputs) {
		panic(fmt.Sprintf("output %d is missing (the layer has %d)", i, len(c.L.Outputs)))
	}
	return c.L.Outputs[i]
}

// InPort is the output port that feeds input i (its type and shape are
// what the producer declared).
func (c *Ctx) InPort(i int) *irmodel.Port { return c.input(i).Source }

// InType is the element type of input i.
func (c *Ctx) InType(i int) irmodel.ElementType {
	p := c.input(i)
	if t := p.Source.Type; t != "" {
		return t
	}
	return p.Type
}

// InShape is the shape of input i; ok is false when its rank is unknown.
func (c *Ctx) InShape(i int) (irmodel.Shape, bool) {
	p := c.input(i)
	return p.Shape, !p.DynamicRank && !p.Source.DynamicRank
}

// InRank is the rank of input i, or an error when it is unknown.
func (c *Ctx) InRank(i int) (int, error) {
	s, ok := c.InShape(i)
	if !ok {
		return 0, Unsupported("input %d has a dynamic rank", i)
	}
	return len(s), nil
}

// NumOutputs is the number of the layer's output ports.
func (c *Ctx) NumOutputs() int { return len(c.L.Outputs) }

// OutPort is output port i.
func (c *Ctx) OutPort(i int) *irmodel.Port { return c.output(i) }

// OutType is the element type output i declares.
func (c *Ctx) OutType(i int) irmodel.ElementType { return c.output(i).Type }

// Set binds output i to v.
func (c *Ctx) Set(i int, v Value) {
	c.vals[c.output(i)] = v
	c.set[i] = true
}

// Node adds an ONNX node with one output.
func (c *Ctx) Node(op string, inputs []Value, attrs ...*onnxpb.AttributeProto) Value {
	return c.g.Node(op, inputs, attrs...)
}

// MultiNode adds an ONNX node with n outputs.
func (c *Ctx) MultiNode(op string, n int, inputs []Value, attrs ...*onnxpb.AttributeProto) []Value {
	return c.g.MultiNode(op, make([]string, n), inputs, attrs...)
}

// Tensor adds t as an initializer.
func (c *Ctx) Tensor(t *onnxpb.TensorProto) Value { return c.g.Constant(t) }

// Ints adds a 1-D INT64 initializer (shapes, axes, indices).
func (c *Ctx) Ints(vals ...int64) Value {
	return c.g.Constant(onnxmodel.Int64Tensor("", []int64{int64(len(vals))}, vals))
}

// Int is a scalar INT64 initializer.
func (c *Ctx) Int(v int64) Value { return c.g.Constant(onnxmodel.Int64Tensor("", nil, []int64{v})) }

// Scalar is a scalar initializer of type t holding v (converted).
func (c *Ctx) Scalar(t irmodel.ElementType, v float64) Value {
	return c.g.Constant(scalarTensor(t, v))
}

// Cast converts v to element type t.
func (c *Ctx) Cast(v Value, t irmodel.ElementType) Value {
	return c.Node("Cast", []Value{v}, onnxmodel.AttrInt("to", int64(t.ONNX())))
}

// Const returns the Const layer feeding input i, or nil when input i is
// computed.
func (c *Ctx) Const(i int) *irmodel.Layer {
	if l := c.input(i).Source.Layer; l.Type == "Const" {
		return l
	}
	return nil
}

// ConstInts reads input i, which must be a Const of an integer type, as
// int64 values.
func (c *Ctx) ConstInts(i int) ([]int64, error) {
	l := c.Const(i)
	if l == nil {
		return nil, Unsupported("input %d must be a constant", i)
	}
	return constInts(l)
}

// ConstFloats reads input i, which must be a Const of a numeric type, as
// float64 values.
func (c *Ctx) ConstFloats(i int) ([]float64, error) {
	l := c.Const(i)
	if l == nil {
		return nil, Unsupported("input %d must be a constant", i)
	}
	return constFloats(l)
}

// Attr returns the <data> attribute name and whether it is present.
func (c *Ctx) Attr(name string) (string, bool) {
	v, ok := c.L.Attrs[name]
	return strings.TrimSpace(v), ok
}

// AttrString returns attribute name, or def when absent.
func (c *Ctx) AttrString(name, def string) string {
	if v, ok := c.Attr(name); ok {
		return v
	}
	return def
}

// AttrInt returns integer attribute name, or def when absent.
func (c *Ctx) AttrInt(name string, def int64) (int64, error) {
	v, ok := c.Attr(name)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s=%q is not an integer", name, v)
	}
	return n, nil
}

// AttrInts returns a comma-separated integer list attribute ("1,1"); an
// absent or empty attribute gives def.
func (c *Ctx) AttrInts(name string, def []int64) ([]int64, error) {
	v, ok := c.Attr(name)
	if !ok || v == "" {
		return def, nil
	}
	var out []int64
	for part := range strings.SplitSeq(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("attribute %s=%q is not a list of integers", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// AttrFloat returns a float attribute, or def when absent.
func (c *Ctx) AttrFloat(name string, def float64) (float64, error) {
	v, ok := c.Attr(name)
	if !ok || v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s=%q is not a number", name, v)
	}
	return f, nil
}

// AttrFloats returns a comma-separated float list attribute; absent or
// empty gives def.
func (c *Ctx) AttrFloats(name string, def []float64) ([]float64, error) {
	v, ok := c.Attr(name)
	if !ok || v == "" {
		return def, nil
	}
	var out []float64
	for part := range strings.SplitSeq(v, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil {
			return nil, fmt.Errorf("attribute %s=%q is not a list of numbers", name, v)
		}
		out = append(out, f)
	}
	return out, nil
}

// AttrBool returns a boolean attribute ("true"/"false", "1"/"0"), or def.
func (c *Ctx) AttrBool(name string, def bool) (bool, error) {
	v, ok := c.Attr(name)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("attribute %s=%q is not a boolean", name, v)
}

// constInts reads an integer Const as int64 values.
func constInts(l *irmodel.Layer) ([]int64, error) {
	t, _, err := l.ConstType()
	if err != nil {
		return nil, err
	}
	d := l.Data
	var out []int64
	switch t {
	case irmodel.I64, irmodel.U64:
		for i := 0; i+8 <= len(d); i += 8 {
			out = append(out, int64(binary.LittleEndian.Uint64(d[i:])))
		}
	case irmodel.I32:
		for i := 0; i+4 <= len(d); i += 4 {
			out = append(out, int64(int32(binary.LittleEndian.Uint32(d[i:]))))
		}
	case irmodel.U32:
		for i := 0; i+4 <= len(d); i += 4 {
			out = append(out, int64(binary.LittleEndian.Uint32(d[i:])))
		}
	case irmodel.I16:
		for i := 0; i+2 <= len(d); i += 2 {
			out = append(out, int64(int16(binary.LittleEndian.Uint16(d[i:]))))
		}
	case irmodel.U16:
		for i := 0; i+2 <= len(d); i += 2 {
			out = append(out, int64(binary.LittleEndian.Uint16(d[i:])))
		}
	case irmodel.I8:
		for _, b := range d {
			out = append(out, int64(int8(b)))
		}
	case irmodel.U8, irmodel.Boolean:
		for _, b := range d {
			out = append(out, int64(b))
		}
	default:
		return nil, Unsupported("constant of type %s where integers are expected", t)
	}
	return out, nil
}

// constFloats reads a numeric Const as float64 values.
func constFloats(l *irmodel.Layer) ([]float64, error) {
	t, _, err := l.ConstType()
	if err != nil {
		return nil, err
	}
	d := l.Data
	var out []float64
	switch t {
	case irmodel.F32:
		for i := 0; i+4 <= len(d); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(d[i:]))))
		}
	case irmodel.F64:
		for i := 0; i+8 <= len(d); i += 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(d[i:])))
		}
	case irmodel.F16:
		for i := 0; i+2 <= len(d); i += 2 {
			out = append(out, float64(f16.HalfToFloat32(binary.LittleEndian.Uint16(d[i:]))))
		}
	case irmodel.BF16:
		for i := 0; i+2 <= len(d); i += 2 {
			out = append(out, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[i:]))<<16)))
		}
	default:
		ints, err := constInts(l)
		if err != nil {
			return nil, err
		}
		for _, v := range ints {
			out = append(out, float64(v))
		}
	}
	return out, nil
}
