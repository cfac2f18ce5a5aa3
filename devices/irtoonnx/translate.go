package irtoonnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/core/tensor/f16"
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Opset bounds: translators build graphs valid from MinOpset on; Translate
// uses DefaultOpset unless told otherwise.
const (
	MinOpset     = 18
	MaxOpset     = 21
	DefaultOpset = 21
)

// Producer is the producer_name of translated models.
const Producer = "ovms-irtoonnx"

// Options tune a translation.
type Options struct {
	// Opset is the ONNX opset to build for; 0 means DefaultOpset.
	Opset int64
}

// Tensor describes a graph input or output of the translated model.
type Tensor struct {
	// Name is the ONNX name: the IR tensor's first name, else the layer's
	// name for inputs and out_<i> for outputs.
	Name string
	// Names are all the IR tensor names (requests may use any of them).
	Names []string
	// Type and Shape are what the IR declares.
	Type  irmodel.ElementType
	Shape irmodel.Shape
	// Layout is the layout from the IR's rt_info ("NCHW"), or "".
	Layout string
}

// Result is a translated model.
type Result struct {
	// Model is the ONNX model; its initializers share the .bin bytes.
	Model *onnxpb.ModelProto
	// Inputs and Outputs in the IR's order.
	Inputs, Outputs []Tensor
	// Ops counts the translated layers by "Type-opsetN".
	Ops map[string]int
	// RTInfo is the model's rt_info as OVMS shows it (see RTInfoJSON).
	RTInfo []byte
}

// Translate builds the ONNX equivalent of m. When layers cannot be
// translated the error is an *UntranslatedError listing all of them.
func Translate(m *irmodel.Model, opts Options) (*Result, error) {
	opset := opts.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("opset %d is not supported: ovms writes opsets %d to %d", opset, MinOpset, MaxOpset)
	}
	bad := &UntranslatedError{IRVersion: m.IRVersion}
	for _, l := range m.Layers {
		if _, ok := lookup(l.Type, l.Version); !ok && !builtin(l.Type) {
			bad.Layers = append(bad.Layers, Untranslated{Type: l.Type, Version: l.Version, Layer: l.Name})
		}
	}
	if len(bad.Layers) > 0 {
		return nil, bad
	}
	g := onnxmodel.NewGraph(m.Name)
	res := &Result{Ops: map[string]int{}, RTInfo: RTInfoJSON(m)}
	vals := map[*irmodel.Port]Value{}
	usedNames := map[string]bool{}
	for _, l := range m.Parameters() {
		p := l.Outputs[0]
		t := Tensor{Name: p.Name(), Names: p.Names, Type: p.Type, Shape: p.Shape, Layout: layoutOf(l, p)}
		if t.Name == "" {
			t.Name = l.Name
		}
		if usedNames[t.Name] {
			return nil, fmt.Errorf("%s: input name %q is used twice", l, t.Name)
		}
		usedNames[t.Name] = true
		if p.DynamicRank {
			vals[p] = g.InputUnranked(t.Name, p.Type.ONNX())
		} else {
			vals[p] = g.Input(t.Name, p.Type.ONNX(), p.Shape.Sizes()...)
		}
		res.Inputs = append(res.Inputs, t)
	}
	for _, l := range m.Layers {
		if l.Type == "Parameter" || l.Type == "Result" {
			continue
		}
		res.Ops[l.Type+"-"+l.Version]++
		if l.Type == "Const" {
			v, err := constant(g, l)
			if err != nil {
				bad.Layers = append(bad.Layers, Untranslated{Type: l.Type, Version: l.Version, Layer: l.Name, Reason: err.Error()})
				continue
			}
			vals[l.Outputs[0]] = v
			continue
		}
		fn, _ := lookup(l.Type, l.Version)
		c := &Ctx{L: l, g: g, opset: opset, vals: vals, set: make([]bool, len(l.Outputs))}
		if err := translateLayer(c, fn); err != nil {
			bad.Layers = append(bad.Layers, Untranslated{Type: l.Type, Version: l.Version, Layer: l.Name, Reason: err.Error()})
		}
	}
	if len(bad.Layers) > 0 {
		return nil, bad
	}
	for i, l := range m.Results() {
		src := l.Inputs[0].Source
		t := Tensor{Name: src.Name(), Names: src.Names, Type: src.Type, Shape: src.Shape}
		if t.Name == "" || usedNames[t.Name] {
			t.Name = fmt.Sprintf("out_%d", i)
		}
		usedNames[t.Name] = true
		if src.DynamicRank {
			g.OutputUnranked(vals[src], t.Name, src.Type.ONNX())
		} else {
			g.Output(vals[src], t.Name, src.Type.ONNX(), src.Shape.Sizes()...)
		}
		res.Outputs = append(res.Outputs, t)
	}
	if err := stateIO(g, m, vals, res, usedNames); err != nil {
		return nil, err
	}
	model, err := g.Model(opset)
	if err != nil {
		return nil, err
	}
	model.ProducerName = proto.String(Producer)
	model.IrVersion = proto.Int64(10)
	fuseBiases(model.Graph)
	dropUnusedInitializers(model.Graph)
	res.Model = model
	return res, nil
}

// dropUnusedInitializers removes the initializers no node (nor a node of
// a subgraph) reads and no graph output names: the Const layers whose
// value a translator took as an attribute (ReduceMean's axes, Reshape's
// target shape). ONNX Runtime would drop them too, with a warning per
// tensor in the log of every load.
func dropUnusedInitializers(g *onnxpb.GraphProto) {
	readers := map[string]int{}
	countReaders(g, readers, map[string]bool{})
	for _, o := range g.GetOutput() {
		readers[o.GetName()]++
	}
	g.Initializer = slices.DeleteFunc(g.Initializer, func(t *onnxpb.TensorProto) bool { return readers[t.GetName()] == 0 })
}

// translateLayer runs one translator, turning a panic (an index past the
// inputs a malformed layer has) into an error, and checks every output got
// a value.
func translateLayer(c *Ctx, fn Translator) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed layer: %v", r)
		}
	}()
	if err := fn(c); err != nil {
		return err
	}
	if err := c.g.Err(); err != nil {
		return err
	}
	for i, ok := range c.set {
		if !ok {
			return fmt.Errorf("output %d is not translated", i)
		}
	}
	return nil
}

// builtin reports the layer types Translate handles itself.
func builtin(typ string) bool { return typ == "Parameter" || typ == "Result" || typ == "Const" }

// layoutOf reads a Parameter's layout from its rt_info ("[N,C,H,W]" ->
// "NCHW"), or "".
func layoutOf(l *irmodel.Layer, p *irmodel.Port) string {
	for _, rt := range []*irmodel.Node{p.RTInfo, l.RTInfo} {
		if rt == nil {
			continue
		}
		for _, a := range rt.Children {
			if a.Attr("name") == "layout" {
				return compactLayout(a.Attr("layout"))
			}
		}
	}
	return ""
}

// compactLayout turns OpenVINO's "[N,C,H,W]" into "NCHW" when every
// dimension name is one letter; other layouts are kept as written.
func compactLayout(s string) string {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return s
	}
	out := make([]byte, 0, len(s))
	for i, part := range splitComma(s[1 : len(s)-1]) {
		if len(part) != 1 {
			return s
		}
		_ = i
		out = append(out, part[0])
	}
	return string(out)
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// constant adds a Const layer as an initializer. Byte-aligned types share
// the .bin bytes; u1, u4 and i4 are unpacked into 8-bit elements.
func constant(g *onnxmodel.Graph, l *irmodel.Layer) (Value, error) {
	t, shape, err := l.ConstType()
	if err != nil {
		return Value{}, err
	}
	dims := shape.Sizes()
	name := g.Fresh("const")
	switch t {
	case irmodel.String:
		tp := &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxmodel.String)), StringData: l.Strings()}
		return g.Constant(tp), nil
	case irmodel.U4, irmodel.I4, irmodel.U1:
		return g.Constant(onnxmodel.RawTensor(name, t.ONNX(), dims, unpack(t, l.Data, len(l.Data)))), nil
	}
	if t.ONNX().Size() == 0 {
		return Value{}, Unsupported("constant of element type %s", t)
	}
	return g.Constant(onnxmodel.RawTensor(name, t.ONNX(), dims, l.Data)), nil
}

// unpack widens packed sub-byte elements to one byte each: u4/i4 hold two
// per byte, low nibble first; u1 eight per byte, most significant bit
// first (OpenVINO's order). i4 is sign-extended.
func unpack(t irmodel.ElementType, data []byte, n int) []byte {
	var out []byte
	switch t {
	case irmodel.U1:
		out = make([]byte, 0, 8*n)
		for _, b := range data {
			for bit := 7; bit >= 0; bit-- {
				out = append(out, (b>>bit)&1)
			}
		}
	default:
		out = make([]byte, 0, 2*n)
		for _, b := range data {
			lo, hi := b&0xf, b>>4
			if t == irmodel.I4 {
				lo, hi = byte(int8(lo<<4)>>4), byte(int8(hi<<4)>>4)
			}
			out = append(out, lo, hi)
		}
	}
	return out
}

// scalarTensor is a scalar of type t holding v.
func scalarTensor(t irmodel.ElementType, v float64) *onnxpb.TensorProto {
	var raw []byte
	switch t {
	case irmodel.F32:
		raw = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v)))
	case irmodel.F64:
		raw = binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
	case irmodel.F16:
		raw = binary.LittleEndian.AppendUint16(nil, f16.Float32ToHalf(float32(v)))
	case irmodel.BF16:
		raw = binary.LittleEndian.AppendUint16(nil, uint16(math.Float32bits(float32(v))>>16))
	case irmodel.I64, irmodel.U64:
		raw = binary.LittleEndian.AppendUint64(nil, uint64(int64(v)))
	case irmodel.I32, irmodel.U32:
		raw = binary.LittleEndian.AppendUint32(nil, uint32(int64(v)))
	case irmodel.I16, irmodel.U16:
		raw = binary.LittleEndian.AppendUint16(nil, uint16(int64(v)))
	default:
		raw = []byte{byte(int64(v))}
	}
	return onnxmodel.RawTensor("", t.ONNX(), nil, raw)
}
