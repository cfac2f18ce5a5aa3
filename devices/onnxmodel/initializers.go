package onnxmodel

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto read by Initializers.
const (
	fieldGraphInitializer = 5  // GraphProto.initializer
	fieldTensorDims       = 1  // TensorProto.dims
	fieldTensorDataType   = 2  // TensorProto.data_type
	fieldTensorSegment    = 3  // TensorProto.segment
	fieldTensorName       = 8  // TensorProto.name
	fieldTensorRawData    = 9  // TensorProto.raw_data
	fieldTensorExternal   = 13 // TensorProto.external_data
	fieldTensorLocation   = 14 // TensorProto.data_location
	fieldEntryKey         = 1  // StringStringEntryProto.key
	fieldEntryValue       = 2  // StringStringEntryProto.value
	locationExternal      = 1  // TensorProto.DataLocation EXTERNAL
	fieldGraphSparse      = 15 // GraphProto.sparse_initializer
	fieldSparseValues     = 1  // SparseTensorProto.values
	fieldNodeInput        = 1  // NodeProto.input
	fieldGraphOutput      = 12 // GraphProto.output
	fieldValueInfoName    = 1  // ValueInfoProto.name
)

// RawInitializer is an initializer of a model's main graph whose values
// are held as raw bytes: inline (raw_data) or in an external file.
type RawInitializer struct {
	Name     string
	DataType DataType
	Dims     []int64
	// Raw is the tensor's bytes, little-endian, when they are inline; it
	// aliases the model.
	Raw []byte
	// External says where the bytes are when they are not inline.
	External *ExternalData
	// Uses are the node inputs that read the initializer, in the main
	// graph and its subgraphs; a graph output of its name is a Use with
	// the Op "(graph output)".
	Uses []Use
}

// ExternalData is where an initializer's bytes are kept outside the model:
// Length bytes from Offset in the file Location names.
type ExternalData struct {
	Location       string
	Offset, Length int64
}

// Use is one node input reading a tensor: the node's operator, its domain
// ("" for ONNX's) and the input's position.
type Use struct {
	Op, Domain string
	Input      int
}

// GraphOutputOp is the Op of a Use that is an output of the graph.
const GraphOutputOp = "(graph output)"

// ShadowOp is the Op of a Use that is another initializer of the same
// name: a sparse one of the main graph, or one of a subgraph (which ONNX
// Runtime would replace too when the name's tensor is given to a session).
const ShadowOp = "(another initializer of the name)"

// maxGraphDepth bounds the nesting of subgraphs Initializers walks, as
// protobuf decoders bound a message's nesting; a deeper model is refused.
const maxGraphDepth = 100

// Initializers returns the initializers of a serialized ONNX model's main
// graph whose raw bytes, inline or external (with a location and a
// length), are at least minBytes, walking the wire format without copying
// the weights. Tensors in segments or with typed values are left out, as
// are all initializers of a model whose graph field or an initializer name
// is given twice (protobuf would merge them), so that what it returns is
// exactly what the engine reads from the model. It checks no more of the
// wire format than it reads: a model protobuf refuses (which the engine
// then refuses too) may still give initializers, or an error.
func Initializers(model []byte, minBytes int) ([]RawInitializer, error) {
	var graph []byte
	graphs := 0
	err := eachField(model, func(num protowire.Number, b []byte) error {
		if num == fieldModelGraph {
			graph, graphs = b, graphs+1
		}
		return nil
	})
	if err != nil || graphs != 1 {
		return nil, err
	}
	var out []RawInitializer
	names := map[string]bool{}
	dup := false
	err = eachField(graph, func(num protowire.Number, b []byte) error {
		if num != fieldGraphInitializer {
			return nil
		}
		t, ok, err := readInitializer(b)
		if err != nil {
			return err
		}
		if names[t.Name] {
			dup = true
		}
		names[t.Name] = true
		if ok && (len(t.Raw) >= minBytes || (t.External != nil && t.External.Length >= int64(minBytes))) {
			out = append(out, t)
		}
		return nil
	})
	if err != nil || dup {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	byName := make(map[string]*RawInitializer, len(out))
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	if err := recordUses(graph, byName, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// recordUses adds to byName's initializers the node inputs of a graph (and
// of its nodes' subgraphs, depth levels down) that name them, the main
// graph's outputs of their names, and the other initializers of their
// names (a subgraph's own, the main graph's sparse ones). A subgraph's
// tensor of the same name shadows the outer one: its reads are counted
// all the same, which errs on the side of more uses.
func recordUses(graph []byte, byName map[string]*RawInitializer, depth int) error {
	if depth > maxGraphDepth {
		return errMalformed
	}
	use := func(name string, u Use) {
		if in := byName[name]; in != nil {
			in.Uses = append(in.Uses, u)
		}
	}
	return eachField(graph, func(num protowire.Number, b []byte) error {
		switch {
		case num == fieldGraphOutput && depth == 0:
			return eachField(b, func(num protowire.Number, name []byte) error {
				if num == fieldValueInfoName {
					use(string(name), Use{Op: GraphOutputOp})
				}
				return nil
			})
		case num == fieldGraphInitializer && depth > 0:
			return eachField(b, func(num protowire.Number, name []byte) error {
				if num == fieldTensorName {
					use(string(name), Use{Op: ShadowOp})
				}
				return nil
			})
		case num == fieldGraphSparse:
			return eachField(b, func(num protowire.Number, values []byte) error {
				if num != fieldSparseValues {
					return nil
				}
				return eachField(values, func(num protowire.Number, name []byte) error {
					if num == fieldTensorName {
						use(string(name), Use{Op: ShadowOp})
					}
					return nil
				})
			})
		case num == fieldGraphNode:
			var op, domain string
			var inputs []string
			err := eachField(b, func(num protowire.Number, f []byte) error {
				switch num {
				case fieldNodeInput:
					inputs = append(inputs, string(f))
				case fieldNodeOpType:
					op = string(f)
				case fieldNodeDomain:
					domain = string(f)
				case fieldNodeAttribute:
					return eachField(f, func(num protowire.Number, g []byte) error {
						if num == fieldAttrGraph || num == fieldAttrGraphs {
							return recordUses(g, byName, depth+1)
						}
						return nil
					})
				}
				return nil
			})
			if err != nil {
				return err
			}
			if domain == "ai.onnx" {
				domain = ""
			}
			for i, name := range inputs {
				use(name, Use{Op: op, Domain: domain, Input: i})
			}
		}
		return nil
	})
}

// readInitializer reads a TensorProto; ok is false when its values are
// neither one inline raw_data field nor external data with a location and
// a length (typed fields, segments), or a field it reads is given twice.
func readInitializer(msg []byte) (t RawInitializer, ok bool, err error) {
	ok = true
	raws, names, types, locations := 0, 0, 0, 0
	var location uint64
	var ext ExternalData
	extKeys := map[string]int{}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return t, false, errMalformed
		}
		msg = msg[n:]
		if n = protowire.ConsumeFieldValue(num, typ, msg); n < 0 {
			return t, false, errMalformed
		}
		field := msg[:n] // the value, whole and well formed
		msg = msg[n:]
		var v uint64 // a varint field's value
		var b []byte // a length-delimited field's bytes
		switch typ {
		case protowire.VarintType:
			v, _ = protowire.ConsumeVarint(field)
		case protowire.BytesType:
			b, _ = protowire.ConsumeBytes(field)
		}
		switch {
		case num == fieldTensorDims && typ == protowire.VarintType:
			t.Dims = append(t.Dims, int64(v))
		case num == fieldTensorDims && typ == protowire.BytesType: // packed
			for len(b) > 0 {
				d, m := protowire.ConsumeVarint(b)
				if m < 0 {
					return t, false, errMalformed
				}
				t.Dims = append(t.Dims, int64(d))
				b = b[m:]
			}
		case num == fieldTensorDataType && typ == protowire.VarintType:
			t.DataType = DataType(int32(v))
			types++
		case num == fieldTensorName && typ == protowire.BytesType:
			t.Name = string(b)
			names++
		case num == fieldTensorRawData && typ == protowire.BytesType:
			t.Raw = b
			raws++
		case num == fieldTensorLocation && typ == protowire.VarintType:
			location = v
			locations++
		case num == fieldTensorExternal && typ == protowire.BytesType:
			key, value, err := stringEntry(b)
			if err != nil {
				return t, false, err
			}
			extKeys[key]++
			switch key {
			case "location":
				ext.Location = value
			case "offset", "length":
				n, err := strconv.ParseInt(value, 10, 64)
				switch {
				case err != nil || n < 0:
					ok = false
				case key == "offset":
					ext.Offset = n
				default:
					ext.Length = n
				}
			}
		case num == fieldTensorSegment, num == fieldTensorExternal, num == fieldTensorLocation,
			num >= 4 && num <= 7, num == 10, num == 11: // segment, typed values, fields of the wrong type
			ok = false
		}
	}
	if names != 1 || types > 1 || locations > 1 || t.Name == "" {
		ok = false
	}
	switch {
	case location == locationExternal:
		for _, n := range extKeys {
			if n > 1 {
				ok = false
			}
		}
		if raws != 0 || ext.Location == "" || extKeys["length"] != 1 {
			ok = false
		}
		t.External = &ext
	case location != 0 || raws != 1:
		ok = false
	}
	return t, ok, nil
}

// stringEntry reads a StringStringEntryProto.
func stringEntry(msg []byte) (key, value string, err error) {
	err = eachField(msg, func(num protowire.Number, f []byte) error {
		switch num {
		case fieldEntryKey:
			key = string(f)
		case fieldEntryValue:
			value = string(f)
		}
		return nil
	})
	return key, value, err
}
