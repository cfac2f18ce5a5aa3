package onnxmodel_test

import (
	"fmt"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// The OVMS "dummy" model: a = b + 1 over FP32 [1,10].
func ExampleGraph() {
	g := onnxmodel.NewGraph("dummy")
	b := g.Input("b", onnxmodel.Float32, 1, 10)
	one := g.Constant(onnxmodel.Float32Tensor("one", []int64{1, 1}, []float32{1}))
	g.Output(g.NamedNode("Add", "a", []onnxmodel.Value{b, one}), "a", onnxmodel.Float32, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := onnxmodel.SetInputShape(m, "b", []int64{-1, 10}); err != nil {
		fmt.Println(err)
		return
	}
	onnxmodel.ClearOutputShapes(m)
	in := m.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()
	fmt.Println(m.GetGraph().GetNode()[0].GetOpType(), in[0].GetDimParam(), in[1].GetDimValue())
	// Output: Add b_d0 10
}
