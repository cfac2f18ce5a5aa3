package main

import (
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// opset is the default-domain opset the test models import (no_name_output
// imports 14, where Mul and Add take int8).
const opset = 13

// Model is one generated test model: Build returns the graph written to
// <out>/<Name>/1/model.onnx; Bench models are written only with -bench.
type Model struct {
	Name  string
	Bench bool
	Build func() (*onnxpb.ModelProto, error)
}

// Models lists every test model in generation order.
//
// Input and output names follow the OpenVINO Model Server test models in
// openvinotoolkit/model_server src/test (constants in src/test/test_utils.hpp):
//   - dummy/1/dummy.xml: "b" f32 [1,10] -> Add 1 -> "a" [1,10]
//   - add_two_inputs_model (SUM_MODEL_*): "input1", "input2" f32 [1,10] -> "sum"
//   - increment_1x3x4x5: "input" f32 [1,3,4,5] -> Add 1 -> "output"
//   - passthrough/1/passthrough.xml: "input" u8 [?,?] -> Add 0 ("copy") -> "copy:0"
//   - scalar/1/saved_model.xml: "model_scalar_input" f32 [] -> "model_scalar_output",
//     the output equal to the input
//   - passthrough_string: "my_name" string [?] -> Result, the output also
//     called "my_name"
//   - image_nhwc (ours): "image" f32 [1,4,4,3] -> Identity -> "pixels", an
//     NHWC input for binary (JPEG/PNG) inputs, resized to 4x4
//   - image_any (ours): "image" u8 [-1,-1,-1,3] -> Identity -> "pixels":
//     images keep their size (OVMS resizes only to fully static shapes)
//   - dummy_fp64: "b" f64 [?,10] -> Add 1 -> "a"
//   - no_name_output: "input1", "input2" i8 [1,10] -> Multiply, Add; OVMS's IR
//     has no output names (served as out_0, out_1), the ONNX twin names them so
//   - vad_lstm (ours): "input" f32 [-1,512] -> LSTM -> "output" [-1,8], a
//     silero-VAD-shaped model whose ONNX Runtime kernel aborts on [0,512]
//   - rnn_stateful, vad_stateful (ours): models with explicit state for
//     stateful serving (stateful.go)
//
// Directory names are this project's: add_two_inputs (OVMS:
// add_two_inputs_model), passthrough_u8 (passthrough), string_passthrough
// (passthrough_string), and dummy_dynamic, image_nhwc, image_any, vad_lstm, resnet50, add_one_1x3x1024x1024
// small_cnn, scale_cnn_tiny and scale_cnn_small, which OVMS does not have.
var Models = []Model{
	{Name: "dummy", Build: func() (*onnxpb.ModelProto, error) { return addOne("dummy", "b", "a", 1, 10) }},
	{Name: "add_two_inputs", Build: addTwoInputs},
	{Name: "increment_1x3x4x5", Build: func() (*onnxpb.ModelProto, error) {
		return addOne("increment_1x3x4x5", "input", "output", 1, 3, 4, 5)
	}},
	{Name: "passthrough_u8", Build: func() (*onnxpb.ModelProto, error) {
		return identity("passthrough_u8", "input", "copy:0", om.Uint8, -1, -1)
	}},
	{Name: "scalar", Build: func() (*onnxpb.ModelProto, error) {
		return identity("scalar", "model_scalar_input", "model_scalar_output", om.Float32)
	}},
	{Name: "string_passthrough", Build: func() (*onnxpb.ModelProto, error) {
		return identity("string_passthrough", "my_name", "my_name", om.String, -1)
	}},
	{Name: "dummy_fp64", Build: dummyFP64},
	{Name: "no_name_output", Build: noNameOutput},
	{Name: "dummy_dynamic", Build: func() (*onnxpb.ModelProto, error) { return addOne("dummy_dynamic", "b", "a", -1, -1) }},
	{Name: "image_nhwc", Build: func() (*onnxpb.ModelProto, error) {
		return identity("image_nhwc", "image", "pixels", om.Float32, 1, 4, 4, 3)
	}},
	{Name: "image_any", Build: func() (*onnxpb.ModelProto, error) {
		return identity("image_any", "image", "pixels", om.Uint8, -1, -1, -1, 3)
	}},
	{Name: "vad_lstm", Build: vadLSTM},
	{Name: "rnn_stateful", Build: rnnStateful},
	{Name: "vad_stateful", Build: vadStateful},
	{Name: "slow_stateful", Build: slowStateful},
	{Name: "resnet50", Bench: true, Build: resnet50},
	{Name: "add_one_1x3x1024x1024", Bench: true, Build: func() (*onnxpb.ModelProto, error) {
		return addOne("add_one_1x3x1024x1024", "input", "output", 1, 3, 1024, 1024)
	}},
	{Name: "small_cnn", Bench: true, Build: smallCNN},
	// The scale bench's small CNNs (many of them load at once): about
	// 0.3 MB and 2 MB of weights.
	{Name: "scale_cnn_tiny", Bench: true, Build: func() (*onnxpb.ModelProto, error) { return cnn("scale_cnn_tiny", 64, 8, 16, 64) }},
	{Name: "scale_cnn_small", Bench: true, Build: func() (*onnxpb.ModelProto, error) { return cnn("scale_cnn_small", 96, 16, 32, 256) }},
	{Name: "rnn_stateful_256", Bench: true, Build: func() (*onnxpb.ModelProto, error) { return rnnCell("rnn_stateful_256", 256) }},
}

// addOne builds output = input + 1 in FP32, the constant shaped [1,...,1]
// with the input's rank as in the OVMS models.
func addOne(graph, input, output string, dims ...int64) (*onnxpb.ModelProto, error) {
	g := om.NewGraph(graph)
	x := g.Input(input, om.Float32, dims...)
	ones := make([]int64, len(dims))
	for i := range ones {
		ones[i] = 1
	}
	one := g.Constant(om.Float32Tensor("one", ones, []float32{1}))
	g.Output(g.NamedNode("Add", output, []om.Value{x, one}), output, om.Float32, dims...)
	return g.Model(opset)
}

// addTwoInputs builds sum = input1 + input2 over FP32 [1,10].
func addTwoInputs() (*onnxpb.ModelProto, error) {
	g := om.NewGraph("add_two_inputs")
	a := g.Input("input1", om.Float32, 1, 10)
	b := g.Input("input2", om.Float32, 1, 10)
	g.Output(g.NamedNode("Add", "sum", []om.Value{a, b}), "sum", om.Float32, 1, 10)
	return g.Model(opset)
}

// identity builds output = input. With equal names the graph has no node
// and its output is the input itself.
func identity(graph, input, output string, t om.DataType, dims ...int64) (*onnxpb.ModelProto, error) {
	g := om.NewGraph(graph)
	g.Output(g.Input(input, t, dims...), output, t, dims...)
	return g.Model(opset)
}
