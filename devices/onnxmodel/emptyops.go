package onnxmodel

import (
	"errors"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// EmptyUnsafe lists the standard operators whose ONNX Runtime 1.30 CPU
// kernels kill the process on an empty tensor instead of returning an
// error, found by running each on zero-size inputs: LSTM (an empty batch
// aborts: "terminate called without an active exception"), GRU (an empty
// batch or sequence aborts), DFT (an empty signal divides by zero) and
// ConvTranspose (an empty spatial dimension reads out of bounds). A
// request with a zero dimension must not reach a model that has one.
var EmptyUnsafe = map[string]bool{"LSTM": true, "GRU": true, "DFT": true, "ConvTranspose": true}

// Field numbers of onnx.proto walked by EmptyUnsafeOps.
const (
	fieldModelGraph     = 7  // ModelProto.graph
	fieldModelFunctions = 25 // ModelProto.functions
	fieldGraphNode      = 1  // GraphProto.node
	fieldFunctionNode   = 7  // FunctionProto.node
	fieldNodeOpType     = 4  // NodeProto.op_type
	fieldNodeAttribute  = 5  // NodeProto.attribute
	fieldNodeDomain     = 7  // NodeProto.domain
	fieldAttrGraph      = 6  // AttributeProto.g
	fieldAttrGraphs     = 11 // AttributeProto.graphs
)

// EmptyUnsafeOps returns, sorted, the EmptyUnsafe operators a serialized
// ONNX model uses anywhere: its graph, the subgraphs of If, Loop and Scan
// nodes, and its local functions. It walks the wire format without
// decoding the rest (weights are skipped, not copied).
func EmptyUnsafeOps(model []byte) ([]string, error) {
	found := map[string]bool{}
	err := eachField(model, func(num protowire.Number, b []byte) error {
		switch num {
		case fieldModelGraph:
			return scanNodes(b, fieldGraphNode, found)
		case fieldModelFunctions:
			return scanNodes(b, fieldFunctionNode, found)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(found))
	for op := range found {
		out = append(out, op)
	}
	sort.Strings(out)
	return out, nil
}

// scanNodes records the unsafe operators of the nodes in a graph or
// function message (its nodes are field nodeField).
func scanNodes(msg []byte, nodeField protowire.Number, found map[string]bool) error {
	return eachField(msg, func(num protowire.Number, node []byte) error {
		if num != nodeField {
			return nil
		}
		var op, domain string
		err := eachField(node, func(num protowire.Number, b []byte) error {
			switch num {
			case fieldNodeOpType:
				op = string(b)
			case fieldNodeDomain:
				domain = string(b)
			case fieldNodeAttribute:
				return eachField(b, func(num protowire.Number, g []byte) error {
					if num == fieldAttrGraph || num == fieldAttrGraphs {
						return scanNodes(g, fieldGraphNode, found)
					}
					return nil
				})
			}
			return nil
		})
		if err == nil && EmptyUnsafe[op] && (domain == "" || domain == "ai.onnx") {
			found[op] = true
		}
		return err
	})
}

var errMalformed = errors.New("onnx model: malformed protobuf")

// eachField calls fn for every length-delimited field of a message and
// skips the others.
func eachField(msg []byte, fn func(protowire.Number, []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return errMalformed
		}
		msg = msg[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, msg); n < 0 {
				return errMalformed
			}
			msg = msg[n:]
			continue
		}
		b, n := protowire.ConsumeBytes(msg)
		if n < 0 {
			return errMalformed
		}
		msg = msg[n:]
		if err := fn(num, b); err != nil {
			return err
		}
	}
	return nil
}
