package onnxmodel

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Reshape is OVMS's shape, batch_size and layout settings for one model.
type Reshape struct {
	// Shapes maps an input name ("" for the only input) to its new dims;
	// -1 is a dynamic dimension.
	Shapes map[string][]int64
	// BatchSize sets every input's batch dimension (N of its layout, else
	// the first); 0 keeps it. Shapes win over it, as in OVMS.
	BatchSize int64
	// Layouts maps an input name ("" for the only input) to
	// "TARGET:SOURCE" (requests in TARGET order, the model in SOURCE order:
	// a Transpose is inserted) or a bare layout naming the dimensions.
	Layouts map[string]string
}

// Empty reports whether r changes nothing.
func (r Reshape) Empty() bool {
	return len(r.Shapes) == 0 && r.BatchSize == 0 && len(r.Layouts) == 0
}

// ReshapeError is a setting that cannot apply to the model, with OVMS's
// message.
type ReshapeError struct{ Msg string }

func (e *ReshapeError) Error() string { return e.Msg }

// ApplyReshape rewrites a serialized ONNX model: new input dims, a batch
// size, and Transposes in front of inputs whose layout is converted. The
// declared shapes of outputs and intermediate values are cleared so that
// the engine infers them from the new inputs.
func ApplyReshape(model []byte, r Reshape) ([]byte, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("parsing the model: %w", err)
	}
	g := m.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("parsing the model: no graph")
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	var inputs []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if !inits[in.GetName()] {
			inputs = append(inputs, in)
		}
	}
	pick := func(key, what string) (*onnxpb.ValueInfoProto, error) {
		if key == "" {
			if len(inputs) != 1 {
				return nil, &ReshapeError{fmt.Sprintf("Anonymous fixed %s is invalid for models with multiple inputs", what)}
			}
			return inputs[0], nil
		}
		for _, in := range inputs {
			if in.GetName() == key {
				return in, nil
			}
		}
		return nil, &ReshapeError{fmt.Sprintf("%s from config not found in model - input %q", strings.ToUpper(what[:1])+what[1:], key)}
	}
	layouts := map[*onnxpb.ValueInfoProto][2]string{} // target, source
	for _, key := range sortedKeys(r.Layouts) {
		in, err := pick(key, "layout")
		if err != nil {
			return nil, err
		}
		target, source, err := parseLayout(r.Layouts[key], len(dims(in)))
		if err != nil {
			return nil, err
		}
		layouts[in] = [2]string{target, source}
	}
	for _, in := range inputs {
		d := dims(in)
		if r.BatchSize > 0 && len(d) > 0 {
			i := 0
			if l, ok := layouts[in]; ok {
				if j := strings.IndexByte(l[1], 'N'); j >= 0 {
					i = j
				}
			}
			d[i] = r.BatchSize
			setDims(in, d)
		}
	}
	for _, key := range sortedKeys(r.Shapes) {
		in, err := pick(key, "shape")
		if err != nil {
			return nil, err
		}
		setDims(in, r.Shapes[key])
	}
	for in, l := range layouts {
		if l[0] == l[1] {
			continue
		}
		if n := len(dims(in)); n != len(l[1]) { // a shape of another rank was set
			return nil, &ReshapeError{fmt.Sprintf("Layout incompatible with given shape - %q for an input of %d dimensions", l[0]+":"+l[1], n)}
		}
		if err := insertTranspose(g, in, l[0], l[1]); err != nil {
			return nil, err
		}
	}
	// Let the engine infer everything downstream. Outputs keep their rank
	// with every dimension unknown, neither a size nor a name, so that ONNX
	// Runtime reports the sizes and symbols its shape inference gives them:
	// an output dimension that follows an input's dynamic one carries that
	// input's symbol, which lets the plugin size the output from a request
	// before the run (devices/ortdevice, outputTies).
	g.ValueInfo = nil
	for _, out := range g.GetOutput() {
		if tt := out.GetType().GetTensorType(); tt != nil && tt.Shape != nil {
			shape := &onnxpb.TensorShapeProto{}
			for range tt.Shape.Dim {
				shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{})
			}
			tt.Shape = shape
		}
	}
	return proto.Marshal(&m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseLayout reads "TARGET:SOURCE" or "LAYOUT" for a rank-n input.
func parseLayout(s string, n int) (target, source string, err error) {
	target, source, conv := strings.Cut(s, ":")
	if !conv {
		source = target
	}
	for _, l := range []string{target, source} {
		if len(l) != n || strings.Trim(l, "NCHWD?") != "" || hasRepeats(l) {
			return "", "", &ReshapeError{fmt.Sprintf("The provided layout is in wrong format - %q for an input of %d dimensions", s, n)}
		}
	}
	if conv && !samePermutation(target, source) {
		return "", "", &ReshapeError{fmt.Sprintf("Layout incompatible with given shape - %q converts between different dimensions", s)}
	}
	return target, source, nil
}

func hasRepeats(l string) bool {
	seen := map[rune]bool{}
	for _, c := range l {
		if c != '?' && seen[c] {
			return true
		}
		seen[c] = true
	}
	return false
}

func samePermutation(a, b string) bool {
	x, y := []byte(a), []byte(b)
	sort.Slice(x, func(i, j int) bool { return x[i] < x[j] })
	sort.Slice(y, func(i, j int) bool { return y[i] < y[j] })
	return string(x) == string(y) && !strings.Contains(a, "?")
}

// insertTranspose makes input in take the target layout: a new graph input
// with in's name in target order feeds a Transpose whose output replaces
// the old input everywhere.
func insertTranspose(g *onnxpb.GraphProto, in *onnxpb.ValueInfoProto, target, source string) error {
	name := in.GetName()
	inner := name + "__ovms_" + strings.ToLower(source)
	for _, n := range g.GetNode() {
		for i, x := range n.GetInput() {
			if x == name {
				n.Input[i] = inner
			}
		}
	}
	for _, out := range g.GetOutput() {
		if out.GetName() == name {
			return &ReshapeError{"Layout conversion is not supported when input names equal output names"}
		}
	}
	// perm[i]: the target axis that becomes source axis i.
	perm := make([]int64, len(source))
	sd := dims(in)
	td := make([]int64, len(target))
	for i, c := range source {
		j := strings.IndexRune(target, c)
		perm[i] = int64(j)
		td[j] = sd[i]
	}
	setDims(in, td)
	g.Node = append([]*onnxpb.NodeProto{{
		OpType: proto.String("Transpose"), Name: proto.String(inner + "_transpose"), Input: []string{name}, Output: []string{inner},
		Attribute: []*onnxpb.AttributeProto{{Name: proto.String("perm"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: perm}},
	}}, g.Node...)
	return nil
}

// dims reads a tensor value's dims (-1 for unknown).
func dims(v *onnxpb.ValueInfoProto) []int64 {
	var out []int64
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		if x, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && x.DimValue > 0 {
			out = append(out, x.DimValue)
		} else {
			out = append(out, -1)
		}
	}
	return out
}

// setDims writes a tensor value's dims (-1 becomes a named free dim).
func setDims(v *onnxpb.ValueInfoProto, d []int64) {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return
	}
	shape := &onnxpb.TensorShapeProto{}
	for i, x := range d {
		if x >= 0 {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: x}})
		} else {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: fmt.Sprintf("%s_d%d", v.GetName(), i)}})
		}
	}
	tt.Shape = shape
}
