package main

import (
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// The models of the example detection pipeline (docs/custom-nodes.md:
// detection -> cropboxes -> classification -> argmax):
//   - detection (ours): "image" f32 [1,3,64,64] -> "detection" [1,1,4,7],
//     SSD-style rows (image_id, label, confidence, x_min, y_min, x_max,
//     y_max): the top-left quarter (label 1, 0.9), the bottom-right quarter
//     (label 2, 0.8), a box below 0.5 (0.3) and the end marker (image_id
//     -1). The boxes are fixed; the image only enters as 0 * its mean.
//   - classification (ours): "input" f32 [1,3,32,32] -> mean per channel
//     -> Softmax -> "probabilities" [1,3]: the brightest channel wins.
func init() {
	Models = append(Models,
		Model{Name: "detection", Build: detectionModel},
		Model{Name: "classification", Build: classificationModel})
}

// detectionBoxes are the detection model's rows.
var detectionBoxes = []float32{
	0, 1, 0.9, 0, 0, 0.5, 0.5,
	0, 2, 0.8, 0.5, 0.5, 1, 1,
	0, 3, 0.3, 0.25, 0.25, 0.75, 0.75,
	-1, 0, 0, 0, 0, 0, 0,
}

func detectionModel() (*onnxpb.ModelProto, error) {
	g := om.NewGraph("detection")
	img := g.Input("image", om.Float32, 1, 3, 64, 64)
	mean := g.Node("ReduceMean", []om.Value{img}, om.AttrInts("axes", 1, 2, 3), om.AttrInt("keepdims", 1))
	zero := g.Constant(om.Float32Tensor("zero", []int64{1, 1, 1, 1}, []float32{0}))
	boxes := g.Constant(om.Float32Tensor("boxes", []int64{1, 1, 4, 7}, detectionBoxes))
	none := g.Node("Mul", []om.Value{mean, zero})
	g.Output(g.NamedNode("Add", "detection", []om.Value{boxes, none}), "detection", om.Float32, 1, 1, 4, 7)
	return g.Model(opset)
}

func classificationModel() (*onnxpb.ModelProto, error) {
	g := om.NewGraph("classification")
	x := g.Input("input", om.Float32, 1, 3, 32, 32)
	mean := g.Node("ReduceMean", []om.Value{x}, om.AttrInts("axes", 2, 3), om.AttrInt("keepdims", 0))
	g.Output(g.NamedNode("Softmax", "probabilities", []om.Value{mean}, om.AttrInt("axis", 1)), "probabilities", om.Float32, 1, 3)
	return g.Model(opset)
}
