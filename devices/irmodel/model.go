package irmodel

// Model is a parsed IR model.
type Model struct {
	// Name is the net's name attribute.
	Name string
	// IRVersion is 10 or 11.
	IRVersion int
	// Layers in topological order: every layer comes after the layers that
	// feed it. Parameters and Consts therefore come before their users.
	Layers []*Layer
	// RTInfo is the net's <rt_info> element (model_info, framework, ...),
	// or nil.
	RTInfo *Node

	xmlOrder []*Layer
}

// Layer is one <layer>: an operation with its attributes and ports.
type Layer struct {
	// ID is the layer's id attribute, as edges refer to it.
	ID int64
	// Name is the layer's name attribute.
	Name string
	// Type is the operation ("Convolution"; "Const" for constants).
	Type string
	// Version is the operation set the op's version comes from ("opset1").
	Version string
	// Attrs holds the <data> element's attributes.
	Attrs map[string]string
	// Inputs and Outputs are the ports in the order the XML lists them.
	Inputs, Outputs []*Port
	// RTInfo is the layer's <rt_info> element, or nil.
	RTInfo *Node
	// HasBody is set for ops with a sub-graph (TensorIterator, Loop, If).
	HasBody bool
	// Data is a Const's bytes: a slice of the .bin, never a copy.
	Data []byte
}

// Port is one input or output port of a layer.
type Port struct {
	// ID is the port's id attribute, as edges refer to it.
	ID int64
	// Index is the port's position among its layer's inputs or outputs.
	Index int
	// Type is the element type from the precision attribute; "" when the
	// port has none (IR v10 input ports may omit it).
	Type ElementType
	// Names are the tensor names of an output port, in the order written.
	Names []string
	// Shape holds the <dim> elements; DynamicRank is set when the rank
	// itself is unknown.
	Shape       Shape
	DynamicRank bool
	// RTInfo is the port's <rt_info> element (layout, ...), or nil.
	RTInfo *Node
	// Layer is the port's owner.
	Layer *Layer
	// Source is, for an input port, the output port that feeds it.
	Source *Port
}

// Name is the name the tensor is served by, or "" when it has none: the
// lexicographically smallest of its names, as OpenVINO's get_any_name
// picks it (and so OVMS serves it): names="input,input:0" is "input",
// names="x:0,a" is "a".
func (p *Port) Name() string {
	name := ""
	for _, n := range p.Names {
		if n != "" && (name == "" || n < name) {
			name = n
		}
	}
	return name
}

// Parameters returns the model's Parameter layers in the order they appear
// in the XML file (OpenVINO's input order).
func (m *Model) Parameters() []*Layer { return m.ofType("Parameter") }

// Results returns the model's Result layers in XML order (OpenVINO's
// output order).
func (m *Model) Results() []*Layer { return m.ofType("Result") }

func (m *Model) ofType(t string) []*Layer {
	var out []*Layer
	for _, l := range m.xmlOrder {
		if l.Type == t {
			out = append(out, l)
		}
	}
	return out
}
