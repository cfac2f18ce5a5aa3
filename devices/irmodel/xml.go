package irmodel

import "encoding/xml"

// The XML schema of an IR file, as encoding/xml reads it. Attribute values
// stay strings here; parse.go checks and converts them.
type xmlNet struct {
	XMLName xml.Name   `xml:"net"`
	Name    string     `xml:"name,attr"`
	Version string     `xml:"version,attr"`
	Layers  []xmlLayer `xml:"layers>layer"`
	Edges   []xmlEdge  `xml:"edges>edge"`
	RTInfo  *Node      `xml:"rt_info"`
}

type xmlLayer struct {
	ID      string    `xml:"id,attr"`
	Name    string    `xml:"name,attr"`
	Type    string    `xml:"type,attr"`
	Version string    `xml:"version,attr"`
	Data    *xmlAttrs `xml:"data"`
	Inputs  []xmlPort `xml:"input>port"`
	Outputs []xmlPort `xml:"output>port"`
	RTInfo  *Node     `xml:"rt_info"`
	Body    *struct{} `xml:"body"`
}

type xmlAttrs struct {
	Attrs []xml.Attr `xml:",any,attr"`
}

type xmlPort struct {
	ID        string   `xml:"id,attr"`
	Precision string   `xml:"precision,attr"`
	Names     string   `xml:"names,attr"`
	Dims      []string `xml:"dim"`
	RTInfo    *Node    `xml:"rt_info"`
}

type xmlEdge struct {
	FromLayer string `xml:"from-layer,attr"`
	FromPort  string `xml:"from-port,attr"`
	ToLayer   string `xml:"to-layer,attr"`
	ToPort    string `xml:"to-port,attr"`
}

// Node is one element of an rt_info tree, kept as written: its name, its
// attributes in order, and its child elements.
type Node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []Node     `xml:",any"`
}

// Attr returns the value of n's attribute name, or "".
func (n *Node) Attr(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Child returns n's first child element called name, or nil.
func (n *Node) Child(name string) *Node {
	if n == nil {
		return nil
	}
	for i := range n.Children {
		if n.Children[i].XMLName.Local == name {
			return &n.Children[i]
		}
	}
	return nil
}
