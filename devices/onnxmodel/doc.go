// Package onnxmodel builds, reads and edits ONNX models (onnxpb.ModelProto).
//
// A Graph is a small builder: declare inputs, add initializers and nodes,
// name the outputs, then call Model to get a ModelProto ready to Marshal or
// WriteFile. Values are referred to by name, as in ONNX itself:
//
//	g := onnxmodel.NewGraph("dummy")
//	b := g.Input("b", onnxmodel.Float32, 1, 10)
//	one := g.Constant(onnxmodel.Float32Tensor("one", []int64{1, 1}, []float32{1}))
//	g.Output(g.NamedNode("Add", "a", []onnxmodel.Value{b, one}), "a", onnxmodel.Float32, 1, 10)
//	m, err := g.Model(13)
//
// Load, Parse, SetInputShape and ClearOutputShapes read and edit existing
// models, for example to give a model fixed input dimensions before a
// session is created.
package onnxmodel
