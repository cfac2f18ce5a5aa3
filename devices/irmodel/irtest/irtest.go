// Package irtest writes OpenVINO IR models (.xml + .bin) for tests and for
// the example models: a small builder that lays out layers, ports, edges
// and weights the way OpenVINO's serializer does (input ports numbered
// first, then output ports; constants appended to the .bin in order).
//
// It writes what it is told: output shapes are given by the caller, not
// inferred, so a test can also write IR that lies.
package irtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ovmsgo/ovms/devices/irmodel"
)

// Net is an IR model being built.
type Net struct {
	name    string
	version int
	layers  []*layer
	edges   []edge
	bin     bytes.Buffer
	rtInfo  string
}

type layer struct {
	id              int
	name, typ, ver  string
	attrs           map[string]string
	inputs, outputs []Port
	rtInfo          string
}

type edge struct{ fromLayer, fromPort, toLayer, toPort int }

// Port describes an output port: its element type, its dims (IR's shape
// syntax: "1,3,?,-1"; "" for a scalar; "..." for a dynamic rank, written as
// no dims, as OpenVINO writes it) and its tensor names
// ("input,input:0"), optional.
type Port struct {
	Type  irmodel.ElementType
	Shape string
	Names string
	// RTInfo is raw XML put inside the port's <rt_info>, optional.
	RTInfo string
}

// Out is an output port of a layer in the net, to feed other layers.
type Out struct {
	layer, port int
	Port
}

// New starts an IR v11 net called name.
func New(name string) *Net { return &Net{name: name, version: 11} }

// SetVersion sets the IR version written (10 or 11).
func (n *Net) SetVersion(v int) { n.version = v }

// SetRTInfo sets raw XML written inside the net's <rt_info>.
func (n *Net) SetRTInfo(xml string) { n.rtInfo = xml }

// Parameter adds an input called name with element type t and shape (IR
// syntax, "?" or "-1" dynamic, "1..8" a range). names defaults to name.
func (n *Net) Parameter(name string, t irmodel.ElementType, shape string, names ...string) Out {
	tn := name
	if len(names) > 0 {
		tn = strings.Join(names, ",")
	}
	return n.Name(n.Op("Parameter", "opset1", map[string]string{"shape": shape, "element_type": string(t)}, nil,
		Port{Type: t, Shape: shape, Names: tn})[0], name)
}

// Const adds a constant of type t and shape dims holding raw (packed as the
// .bin holds it).
func (n *Net) Const(t irmodel.ElementType, dims []int64, raw []byte) Out {
	off := n.bin.Len()
	n.bin.Write(raw)
	shape := joinDims(dims)
	return n.Op("Const", "opset1", map[string]string{
		"element_type": string(t), "shape": shape,
		"offset": fmt.Sprint(off), "size": fmt.Sprint(len(raw)),
	}, nil, Port{Type: t, Shape: shape})[0]
}

// F32 adds an f32 constant.
func (n *Net) F32(dims []int64, vals ...float32) Out {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return n.Const(irmodel.F32, dims, b)
}

// I64 adds an i64 constant.
func (n *Net) I64(dims []int64, vals ...int64) Out {
	b := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return n.Const(irmodel.I64, dims, b)
}

// I32 adds an i32 constant.
func (n *Net) I32(dims []int64, vals ...int32) Out {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return n.Const(irmodel.I32, dims, b)
}

// Op adds a layer of type typ from opset version ver ("opset1") with the
// given <data> attributes, fed by inputs, with the given output ports; it
// returns the outputs. The layer is named after its type and id.
func (n *Net) Op(typ, ver string, attrs map[string]string, inputs []Out, outputs ...Port) []Out {
	id := len(n.layers)
	l := &layer{id: id, name: fmt.Sprintf("%s_%d", strings.ToLower(typ), id), typ: typ, ver: ver, attrs: attrs, outputs: outputs}
	for i, in := range inputs {
		l.inputs = append(l.inputs, in.Port)
		n.edges = append(n.edges, edge{in.layer, in.port, id, i})
	}
	n.layers = append(n.layers, l)
	outs := make([]Out, len(outputs))
	for i, p := range outputs {
		outs[i] = Out{layer: id, port: len(inputs) + i, Port: p}
	}
	return outs
}

// Name renames the layer that produced o and returns o.
func (n *Net) Name(o Out, name string) Out {
	n.layers[o.layer].name = name
	return o
}

// LayerRTInfo sets raw XML inside the <rt_info> of the layer that produced o.
func (n *Net) LayerRTInfo(o Out, xml string) { n.layers[o.layer].rtInfo = xml }

// Result adds a Result layer fed by o, named name (the layer name).
func (n *Net) Result(o Out, name string) {
	n.Op("Result", "opset1", nil, []Out{o})
	n.layers[len(n.layers)-1].name = name
}

// Bytes returns the .xml and .bin contents.
func (n *Net) Bytes() (xmlData, bin []byte) {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\"?>\n<net name=\"%s\" version=\"%d\">\n\t<layers>\n", esc(n.name), n.version)
	for _, l := range n.layers {
		fmt.Fprintf(&b, "\t\t<layer id=\"%d\" name=\"%s\" type=\"%s\" version=\"%s\">\n", l.id, esc(l.name), esc(l.typ), esc(l.ver))
		if len(l.attrs) > 0 {
			b.WriteString("\t\t\t<data")
			keys := make([]string, 0, len(l.attrs))
			for k := range l.attrs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=\"%s\"", k, esc(l.attrs[k]))
			}
			b.WriteString("/>\n")
		}
		if l.rtInfo != "" {
			fmt.Fprintf(&b, "\t\t\t<rt_info>%s</rt_info>\n", l.rtInfo)
		}
		writePorts(&b, "input", 0, l.inputs, false)
		writePorts(&b, "output", len(l.inputs), l.outputs, true)
		b.WriteString("\t\t</layer>\n")
	}
	b.WriteString("\t</layers>\n\t<edges>\n")
	for _, e := range n.edges {
		fmt.Fprintf(&b, "\t\t<edge from-layer=\"%d\" from-port=\"%d\" to-layer=\"%d\" to-port=\"%d\"/>\n", e.fromLayer, e.fromPort, e.toLayer, e.toPort)
	}
	b.WriteString("\t</edges>\n")
	if n.rtInfo != "" {
		fmt.Fprintf(&b, "\t<rt_info>%s</rt_info>\n", n.rtInfo)
	}
	b.WriteString("</net>\n")
	return []byte(b.String()), bytes.Clone(n.bin.Bytes())
}

func writePorts(b *strings.Builder, kind string, first int, ports []Port, names bool) {
	if len(ports) == 0 {
		return
	}
	fmt.Fprintf(b, "\t\t\t<%s>\n", kind)
	for i, p := range ports {
		fmt.Fprintf(b, "\t\t\t\t<port id=\"%d\"", first+i)
		if p.Type != "" {
			fmt.Fprintf(b, " precision=\"%s\"", p.Type.Precision())
		}
		if names && p.Names != "" {
			fmt.Fprintf(b, " names=\"%s\"", esc(p.Names))
		}
		b.WriteString(">\n")
		if sh := strings.TrimSpace(p.Shape); sh != "" && sh != "..." { // a dynamic rank has no dims
			for d := range strings.SplitSeq(p.Shape, ",") {
				dim, err := irmodel.ParseDim(d)
				if err != nil {
					panic(fmt.Sprintf("irtest: %v", err))
				}
				fmt.Fprintf(b, "\t\t\t\t\t<dim>%d</dim>\n", dim.Size())
			}
		}
		if p.RTInfo != "" {
			fmt.Fprintf(b, "\t\t\t\t\t<rt_info>%s</rt_info>\n", p.RTInfo)
		}
		b.WriteString("\t\t\t\t</port>\n")
	}
	fmt.Fprintf(b, "\t\t\t</%s>\n", kind)
}

// WriteFiles writes dir/base.xml and dir/base.bin.
func (n *Net) WriteFiles(dir, base string) error {
	x, bin := n.Bytes()
	if err := os.WriteFile(filepath.Join(dir, base+".xml"), x, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, base+".bin"), bin, 0o644)
}

func esc(s string) string { return html.EscapeString(s) }

func joinDims(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, ",")
}
