package irmodel

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parse reads an IR model from the contents of its .xml and .bin files.
// Const layers' Data slice bin; bin must stay unchanged while the model is
// used. Errors name the layer (name, id and type) they are about.
func Parse(xmlData, bin []byte) (*Model, error) {
	var net xmlNet
	dec := xml.NewDecoder(bytes.NewReader(xmlData))
	dec.Strict = true // no entity but XML's own five: entity bombs fail here
	if err := decodeNet(dec, &net); err != nil {
		return nil, fmt.Errorf("not an IR file: %w", err)
	}
	version, err := strconv.Atoi(net.Version)
	if err != nil || (version != 10 && version != 11) {
		return nil, fmt.Errorf("unsupported IR version %q: ovms reads IR versions 10 and 11", net.Version)
	}
	m := &Model{Name: net.Name, IRVersion: version, RTInfo: net.RTInfo}
	byID := make(map[int64]*Layer, len(net.Layers))
	for i := range net.Layers {
		l, err := newLayer(&net.Layers[i])
		if err != nil {
			return nil, err
		}
		if byID[l.ID] != nil {
			return nil, fmt.Errorf("%s: layer id %d is used twice", l, l.ID)
		}
		byID[l.ID] = l
		m.xmlOrder = append(m.xmlOrder, l)
	}
	if err := connect(net.Edges, byID); err != nil {
		return nil, err
	}
	if m.Layers, err = topoSort(m.xmlOrder); err != nil {
		return nil, err
	}
	if err := parameterShapes(m.Layers); err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if l.Type == "Const" {
			if l.Data, err = constData(l, bin); err != nil {
				return nil, fmt.Errorf("%s: %w", l, err)
			}
		}
	}
	return m, nil
}

// parameterShapes takes each Parameter's shape from its shape attribute,
// which keeps what its port's <dim>s lose (ranges such as 1..8, and a
// dynamic rank, "..."), and marks the ports whose rank is unknown: IR
// writes a port of dynamic rank with no <dim> at all, like a scalar, so an
// output port without dims is taken as of unknown rank when an input of
// its layer is.
func parameterShapes(layers []*Layer) error {
	for _, l := range layers {
		if l.Type == "Parameter" && len(l.Outputs) == 1 {
			if s, ok := l.Attrs["shape"]; ok {
				shape, dyn, err := ParseShape(s)
				if err != nil {
					return fmt.Errorf("%s: %w", l, err)
				}
				p := l.Outputs[0]
				if !dyn && len(shape) != len(p.Shape) {
					return fmt.Errorf("%s: shape %q and its port's %d dims disagree", l, s, len(p.Shape))
				}
				p.Shape, p.DynamicRank = shape, dyn
			}
			continue
		}
		unknown := false
		for _, in := range l.Inputs {
			if in.Source.DynamicRank {
				unknown = true
				in.DynamicRank = len(in.Shape) == 0
			}
		}
		for _, out := range l.Outputs {
			if unknown && len(out.Shape) == 0 {
				out.DynamicRank = true
			}
		}
	}
	return nil
}

// String names the layer in errors: "layer 'conv1' (id 3, Convolution)".
func (l *Layer) String() string {
	return fmt.Sprintf("layer '%s' (id %d, %s)", l.Name, l.ID, l.Type)
}

func newLayer(x *xmlLayer) (*Layer, error) {
	id, err := strconv.ParseInt(x.ID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("layer '%s': bad id %q", x.Name, x.ID)
	}
	l := &Layer{ID: id, Name: x.Name, Type: x.Type, Version: x.Version, RTInfo: x.RTInfo, HasBody: x.Body != nil, Attrs: map[string]string{}}
	if x.Data != nil {
		for _, a := range x.Data.Attrs {
			l.Attrs[a.Name.Local] = a.Value
		}
	}
	for i, xp := range x.Inputs {
		p, err := newPort(l, i, &xp)
		if err != nil {
			return nil, fmt.Errorf("%s input port %s: %w", l, xp.ID, err)
		}
		l.Inputs = append(l.Inputs, p)
	}
	for i, xp := range x.Outputs {
		p, err := newPort(l, i, &xp)
		if err != nil {
			return nil, fmt.Errorf("%s output port %s: %w", l, xp.ID, err)
		}
		l.Outputs = append(l.Outputs, p)
	}
	return l, nil
}

func newPort(l *Layer, index int, x *xmlPort) (*Port, error) {
	id, err := strconv.ParseInt(x.ID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad port id %q", x.ID)
	}
	p := &Port{ID: id, Index: index, Layer: l, RTInfo: x.RTInfo, Names: SplitNames(x.Names), Shape: Shape{}}
	if x.Precision != "" {
		if p.Type, err = ParseElementType(x.Precision); err != nil {
			return nil, err
		}
	}
	for _, d := range x.Dims {
		dim, err := ParseDim(d)
		if err != nil {
			return nil, err
		}
		p.Shape = append(p.Shape, dim)
	}
	return p, nil
}

// SplitNames splits a names attribute ("input,input:0") on the commas that
// are not escaped; "\," stands for a comma inside a name.
func SplitNames(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var names []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			names = append(names, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(names, strings.TrimSpace(cur.String()))
}

// connect sets every input port's Source from the edges, and checks that
// every input is fed exactly once by an existing output port.
func connect(edges []xmlEdge, byID map[int64]*Layer) error {
	port := func(layer, portID string, outputs bool) (*Layer, *Port, error) {
		lid, err1 := strconv.ParseInt(layer, 10, 64)
		pid, err2 := strconv.ParseInt(portID, 10, 64)
		l := byID[lid]
		if err1 != nil || err2 != nil || l == nil {
			return nil, nil, fmt.Errorf("edge names layer %q port %q, which does not exist", layer, portID)
		}
		ports := l.Inputs
		if outputs {
			ports = l.Outputs
		}
		for _, p := range ports {
			if p.ID == pid {
				return l, p, nil
			}
		}
		kind := "input"
		if outputs {
			kind = "output"
		}
		return nil, nil, fmt.Errorf("edge names %s port %q of %s, which has no such port", kind, portID, l)
	}
	for _, e := range edges {
		_, from, err := port(e.FromLayer, e.FromPort, true)
		if err != nil {
			return err
		}
		to, in, err := port(e.ToLayer, e.ToPort, false)
		if err != nil {
			return err
		}
		if in.Source != nil {
			return fmt.Errorf("%s input port %d is fed by two edges", to, in.ID)
		}
		in.Source = from
	}
	for _, l := range byID {
		for _, in := range l.Inputs {
			if in.Source == nil {
				return fmt.Errorf("%s input port %d has no edge: the IR is missing an edge", l, in.ID)
			}
		}
	}
	return nil
}

// topoSort orders layers producers first (Kahn's algorithm, stable in XML
// order), failing on a cycle.
func topoSort(layers []*Layer) ([]*Layer, error) {
	pending := make(map[*Layer]int, len(layers))
	users := make(map[*Layer][]*Layer, len(layers))
	for _, l := range layers {
		pending[l] = len(l.Inputs)
		for _, in := range l.Inputs {
			users[in.Source.Layer] = append(users[in.Source.Layer], l)
		}
	}
	var order, ready []*Layer
	for _, l := range layers {
		if pending[l] == 0 {
			ready = append(ready, l)
		}
	}
	for len(ready) > 0 {
		l := ready[0]
		ready = ready[1:]
		order = append(order, l)
		for _, u := range users[l] {
			if pending[u]--; pending[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) < len(layers) {
		for _, l := range layers {
			if pending[l] > 0 {
				return nil, fmt.Errorf("the graph has a cycle through %s", l)
			}
		}
	}
	return order, nil
}

// ConstType returns a Const layer's element type and shape from its
// attributes.
func (l *Layer) ConstType() (ElementType, Shape, error) {
	t, err := ParseElementType(l.Attrs["element_type"])
	if err != nil {
		return "", nil, err
	}
	shape, dyn, err := ParseShape(l.Attrs["shape"])
	if err != nil {
		return "", nil, err
	}
	if dyn || !shape.Static() {
		return "", nil, fmt.Errorf("a constant must have a static shape, not %q", l.Attrs["shape"])
	}
	return t, shape, nil
}

// NumElements returns the product of a static shape's sizes, or an error
// when it overflows.
func NumElements(s Shape) (int64, error) {
	n := int64(1)
	for _, d := range s {
		if !d.Static() {
			return 0, errors.New("dynamic dimension")
		}
		if d.Min != 0 && n > (1<<62)/d.Min {
			return 0, fmt.Errorf("shape %s has too many elements", s)
		}
		n *= d.Min
	}
	return n, nil
}

// constData checks a Const's offset and size against its type, its shape
// and the .bin, and returns its bytes (a slice of bin).
func constData(l *Layer, bin []byte) ([]byte, error) {
	t, shape, err := l.ConstType()
	if err != nil {
		return nil, err
	}
	off, err1 := strconv.ParseUint(l.Attrs["offset"], 10, 63)
	size, err2 := strconv.ParseUint(l.Attrs["size"], 10, 63)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("bad offset %q or size %q", l.Attrs["offset"], l.Attrs["size"])
	}
	if off > uint64(len(bin)) || size > uint64(len(bin))-off {
		return nil, fmt.Errorf("offset %d + size %d is past the end of the weights file (%d bytes)", off, size, len(bin))
	}
	data := bin[off : off+size : off+size]
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if t == String {
		return data, checkStrings(data, n)
	}
	if want := t.ByteLen(n); want < 0 || uint64(want) != size {
		return nil, fmt.Errorf("size %d does not match %s[%s] (%d bytes)", size, t, shape, want)
	}
	return data, nil
}

// checkStrings checks a packed string constant: int32 count, count+1
// int32 offsets (non-decreasing), then the bytes.
func checkStrings(data []byte, n int64) error {
	if len(data) < 4 {
		return errors.New("string constant without its count")
	}
	count := int64(int32(binary.LittleEndian.Uint32(data)))
	if count != n {
		return fmt.Errorf("string constant holds %d strings, its shape %d", count, n)
	}
	head := 4 * (2 + count)
	if int64(len(data)) < head {
		return errors.New("string constant shorter than its offsets")
	}
	prev := int32(0)
	for i := range count + 1 {
		o := int32(binary.LittleEndian.Uint32(data[4*(1+i):]))
		if o < prev || int64(o) > int64(len(data))-head {
			return fmt.Errorf("string constant offset %d out of order or past its end", o)
		}
		prev = o
	}
	return nil
}

// Strings unpacks a string constant's elements (slices of Data).
func (l *Layer) Strings() [][]byte {
	d := l.Data
	count := int(int32(binary.LittleEndian.Uint32(d)))
	head := 4 * (2 + count)
	out := make([][]byte, count)
	for i := range out {
		b := binary.LittleEndian.Uint32(d[4*(1+i):])
		e := binary.LittleEndian.Uint32(d[4*(2+i):])
		out[i] = d[head+int(b) : head+int(e)]
	}
	return out
}
