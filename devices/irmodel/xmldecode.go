package irmodel

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// decodeNet reads an IR document into net from dec's token stream: what
// dec.Decode(net) does with xmlNet's struct tags, without the reflection,
// which took two thirds of the parse of a ResNet-50 IR (11.5 ms of its
// 143 KB; the walk over the same tokens takes 4 ms). The tokens, and so the
// syntax checks of a strict decoder, are encoding/xml's; TestDecodeNetAgrees
// and FuzzDecodeNetAgrees hold the result to Decode's.
//
// Decode's rules kept here: the root must be <net>; attributes match on
// their local name and the last of a repeated one wins; children without a
// field are skipped; character data goes only to a <dim>, which keeps the
// text directly inside it; a repeated element of a pointer field (<data>,
// <rt_info>) adds to the one before it, and a repeated path element
// (<layers>, <edges>, <input>, <output>) adds its children to the slice;
// an rt_info element deeper than 10000 levels fails with Decode's "exceeded
// max depth".
func decodeNet(dec *xml.Decoder, net *xmlNet) error {
	start, err := firstElement(dec)
	if err != nil {
		return err
	}
	if start.Name.Local != "net" {
		return fmt.Errorf("expected element type <net> but have <%s>", start.Name.Local)
	}
	net.XMLName = start.Name
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "name":
			net.Name = a.Value
		case "version":
			net.Version = a.Value
		}
	}
	return children(dec, func(se xml.StartElement) error {
		switch se.Name.Local {
		case "layers":
			return children(dec, func(se xml.StartElement) error {
				if se.Name.Local != "layer" {
					return dec.Skip()
				}
				net.Layers = append(net.Layers, xmlLayer{})
				return decodeLayer(dec, se, &net.Layers[len(net.Layers)-1])
			})
		case "edges":
			return children(dec, func(se xml.StartElement) error {
				if se.Name.Local != "edge" {
					return dec.Skip()
				}
				var e xmlEdge
				for _, a := range se.Attr {
					switch a.Name.Local {
					case "from-layer":
						e.FromLayer = a.Value
					case "from-port":
						e.FromPort = a.Value
					case "to-layer":
						e.ToLayer = a.Value
					case "to-port":
						e.ToPort = a.Value
					}
				}
				net.Edges = append(net.Edges, e)
				return dec.Skip()
			})
		case "rt_info":
			return decodeNode(dec, se, &net.RTInfo, 2)
		}
		return dec.Skip()
	})
}

func decodeLayer(dec *xml.Decoder, start xml.StartElement, l *xmlLayer) error {
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "id":
			l.ID = a.Value
		case "name":
			l.Name = a.Value
		case "type":
			l.Type = a.Value
		case "version":
			l.Version = a.Value
		}
	}
	return children(dec, func(se xml.StartElement) error {
		switch se.Name.Local {
		case "data":
			if l.Data == nil {
				l.Data = &xmlAttrs{}
			}
			l.Data.Attrs = append(l.Data.Attrs, se.Attr...)
		case "input":
			return ports(dec, &l.Inputs)
		case "output":
			return ports(dec, &l.Outputs)
		case "rt_info":
			return decodeNode(dec, se, &l.RTInfo, 4)
		case "body":
			if l.Body == nil {
				l.Body = &struct{}{}
			}
		}
		return dec.Skip()
	})
}

// ports appends the <port> children of an <input> or <output> to list.
func ports(dec *xml.Decoder, list *[]xmlPort) error {
	return children(dec, func(se xml.StartElement) error {
		if se.Name.Local != "port" {
			return dec.Skip()
		}
		*list = append(*list, xmlPort{})
		p := &(*list)[len(*list)-1]
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "id":
				p.ID = a.Value
			case "precision":
				p.Precision = a.Value
			case "names":
				p.Names = a.Value
			}
		}
		return children(dec, func(se xml.StartElement) error {
			switch se.Name.Local {
			case "dim":
				text, err := directText(dec)
				if err != nil {
					return err
				}
				p.Dims = append(p.Dims, text)
				return nil
			case "rt_info":
				return decodeNode(dec, se, &p.RTInfo, 6)
			}
			return dec.Skip()
		})
	})
}

// maxDepth is how deep an rt_info element may sit in the document (the
// root at depth 1): Decode's limit (encoding/xml's maxUnmarshalDepth),
// with its error. An rt_info tree is the one part of IR nested without a
// bound, and its walk recurses once per level: without the limit, a 14 MB
// .xml of nested elements overflowed the goroutine's stack, which kills
// the process.
const maxDepth = 10000

var errDepth = errors.New("exceeded max depth")

// decodeNode reads the element start, at depth in the document, into *n
// (allocated when nil, added to when not): its name, its attributes and
// its child elements.
func decodeNode(dec *xml.Decoder, start xml.StartElement, n **Node, depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	if *n == nil {
		*n = &Node{}
	}
	return decodeNodeInto(dec, start, *n, depth)
}

func decodeNodeInto(dec *xml.Decoder, start xml.StartElement, n *Node, depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	n.XMLName = start.Name
	n.Attrs = append(n.Attrs, start.Attr...)
	return children(dec, func(se xml.StartElement) error {
		n.Children = append(n.Children, Node{})
		return decodeNodeInto(dec, se, &n.Children[len(n.Children)-1], depth+1)
	})
}

// children calls f for each child element of the element just started,
// up to its end; f consumes the child, end tag included.
func children(dec *xml.Decoder, f func(xml.StartElement) error) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return eofIsUnexpected(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := f(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// directText returns the character data directly inside the element just
// started (that of its child elements skipped), and consumes the element.
func directText(dec *xml.Decoder) (string, error) {
	var text []byte
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", eofIsUnexpected(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.StartElement:
			if err := dec.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return string(text), nil
		}
	}
}

// firstElement skips the prolog (declaration, comments, directives,
// whitespace) up to the root element; an empty document is io.EOF, as
// for Decode.
func firstElement(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// eofIsUnexpected turns an io.EOF inside an element into
// io.ErrUnexpectedEOF (a strict decoder reports a syntax error first).
func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
