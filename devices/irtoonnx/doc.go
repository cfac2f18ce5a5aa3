// Package irtoonnx translates OpenVINO IR models (devices/irmodel) into
// ONNX graphs that ONNX Runtime runs.
//
// Each IR operation has a Translator in the registry, keyed by its type and
// the opset its version comes from ("MaxPool", "opset8"); the files of this
// package hold one op family each (elementwise.go, conv.go, pool.go, ...).
// A translator reads its layer's inputs, attributes and port shapes through
// a Ctx and adds ONNX nodes; ops with no single ONNX equivalent become small
// subgraphs. Translate first checks that every layer has a translator and
// reports all the layers that do not, with their op, version and name, in
// one error; a translator that meets an attribute value it cannot express
// reports it the same way.
//
// Constants keep their bytes: an f32 Const becomes an initializer whose
// raw_data is the slice of the .bin (the only copy is the one made when the
// model is marshalled for the engine). Sub-byte types (u1, u4, i4) are
// unpacked into 8-bit tensors.
//
// Coverage lists the registry for the documentation (docs/openvino-ir.md,
// kept equal to it by a test).
package irtoonnx
