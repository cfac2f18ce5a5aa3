// Package irmodel reads OpenVINO IR models (IR versions 10 and 11): the
// <net> XML of layers, ports and edges, and the weights of its Const layers
// from the .bin file beside it.
//
// Parse checks what the XML claims against what is there: every edge names
// an existing layer and port, every layer input is fed exactly once, the
// graph has no cycle, and every Const lies inside the .bin. It orders the
// layers so that producers come before consumers, and it never copies the
// weights: a Const's Data is a slice of the .bin bytes the caller passed.
//
// Reading is bounded: the XML is parsed by encoding/xml, which expands no
// user-defined entity (an entity-expansion bomb fails the parse at once),
// and nothing is allocated from a size the file declares before that size
// has been checked against the .bin.
//
// The translation to ONNX lives in devices/irtoonnx.
package irmodel
