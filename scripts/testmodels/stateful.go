package main

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// rnnStateful builds a one-layer RNN cell with explicit state, the model of
// the stateful tests and of docs/stateful.md: "x" f32 [1,4] and the state
// "h_in" f32 [1,4] give out = tanh(x·W + h_in·U), returned both as "out"
// and as the next state "h_out". Served stateful with state_mapping
// {"h_in": "h_out"} the server keeps h; served stateless the client sends
// h_in and reads h_out in every request.
func rnnStateful() (*onnxpb.ModelProto, error) { return rnnCell("rnn_stateful", 4) }

// rnnCell is rnnStateful with n features and hidden units (the benchmark's
// rnn_stateful_256 is a small RNN layer of realistic width).
func rnnCell(name string, n int64) (*onnxpb.ModelProto, error) {
	g := om.NewGraph(name)
	x := g.Input("x", om.Float32, 1, n)
	h := g.Input("h_in", om.Float32, 1, n)
	limit := float32(0.9)
	if n > 4 {
		limit = 1.5 / float32(n)
	}
	w := g.Constant(om.UniformFloat32Tensor("W", []int64{n, n}, 11, limit))
	u := g.Constant(om.UniformFloat32Tensor("U", []int64{n, n}, 12, limit))
	sum := g.Node("Add", []om.Value{g.Node("MatMul", []om.Value{x, w}), g.Node("MatMul", []om.Value{h, u})})
	out := g.NamedNode("Tanh", "out", []om.Value{sum})
	g.Output(out, "out", om.Float32, 1, n)
	g.Output(g.NamedNode("Identity", "h_out", []om.Value{out}), "h_out", om.Float32, 1, n)
	return g.Model(opset)
}

// vadStateful builds a streaming voice-activity-detection-shaped model, as
// silero VAD is shaped: "input" f32 [batch,64] (audio windows) and the
// state "state" f32 [2,batch,8] give "output" f32 [batch,1] (speech
// probability) and the next state "stateN" [2,batch,8]. The batch is a
// symbolic dimension ("batch") of both, so a sequence's initial state takes
// its size from the first request.
//
//	h = tanh(input·W + state[0]·U); c = state[1] + h
//	stateN = [h, c]; output = sigmoid(sum(c) / 8)
func vadStateful() (*onnxpb.ModelProto, error) {
	const window, hidden = 64, 8
	g := om.NewGraph("vad_stateful")
	x := g.Input("input", om.Float32, -1, window)
	st := g.Input("state", om.Float32, 2, -1, hidden)
	w := g.Constant(om.UniformFloat32Tensor("W", []int64{window, hidden}, 21, 0.3))
	u := g.Constant(om.UniformFloat32Tensor("U", []int64{hidden, hidden}, 22, 0.5))
	i0 := g.Constant(om.Int64Tensor("i0", nil, []int64{0}))
	i1 := g.Constant(om.Int64Tensor("i1", nil, []int64{1}))
	h0 := g.Node("Gather", []om.Value{st, i0}, om.AttrInt("axis", 0)) // [batch, 8]
	c0 := g.Node("Gather", []om.Value{st, i1}, om.AttrInt("axis", 0))
	h := g.Node("Tanh", []om.Value{g.Node("Add", []om.Value{g.Node("MatMul", []om.Value{x, w}), g.Node("MatMul", []om.Value{h0, u})})})
	c := g.Node("Add", []om.Value{c0, h})
	axis0 := g.Constant(om.Int64Tensor("axis0", []int64{1}, []int64{0}))
	next := g.NamedNode("Concat", "stateN", []om.Value{g.Node("Unsqueeze", []om.Value{h, axis0}), g.Node("Unsqueeze", []om.Value{c, axis0})}, om.AttrInt("axis", 0))
	axis1 := g.Constant(om.Int64Tensor("axis1", []int64{1}, []int64{1}))
	eighth := g.Constant(om.Float32Tensor("eighth", []int64{1}, []float32{1.0 / hidden}))
	mean := g.Node("Mul", []om.Value{g.Node("ReduceSum", []om.Value{c, axis1}, om.AttrInt("keepdims", 1)), eighth})
	g.Output(g.NamedNode("Sigmoid", "output", []om.Value{mean}), "output", om.Float32, -1, 1)
	g.Output(next, "stateN", om.Float32, 2, -1, hidden)
	m, err := g.Model(opset)
	if err != nil {
		return nil, err
	}
	// One symbolic name for the batch of the input, the state and outputs.
	batch := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}
	for _, vi := range append(m.GetGraph().GetInput(), m.GetGraph().GetOutput()...) {
		for _, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				d.Value = batch.Value
			}
		}
	}
	return m, nil
}

// StatefulIRModels are OpenVINO IR models with state variables, written
// like IRModels but without an ONNX twin (their state is carried by the
// server, see docs/stateful.md).
var StatefulIRModels = []IRModel{{Name: "summator_ir", Build: irSummator}}

// irSummator is OVMS's stateful test model (src/test/summator): "input"
// f32 [1,1] is added to the state variable "sum" (ReadValue-6, zeros at a
// sequence's start) and the new sum is returned as "output" and assigned
// back to the variable.
func irSummator() *irtest.Net {
	n := irtest.New("summator")
	x := n.Parameter("input", irmodel.F32, "1,1")
	attrs := map[string]string{"variable_id": "sum", "variable_type": "f32", "variable_shape": "1,1"}
	rv := n.Op("ReadValue", "opset6", attrs, nil, irtest.Port{Type: irmodel.F32, Shape: "1,1"})
	y := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{rv[0], x},
		irtest.Port{Type: irmodel.F32, Shape: "1,1", Names: "output"})[0]
	n.Op("Assign", "opset6", map[string]string{"variable_id": "sum"}, []irtest.Out{y}, irtest.Port{Type: irmodel.F32, Shape: "1,1"})
	n.Result(y, "output/sink_port_0")
	return n
}

// slowStateful is a stateful model whose step takes long for a long input,
// for tests that need a request to hold its sequence's turn: "x" f32
// [1,N·256] runs through a 256x256 MatMul (N rows), whose mean is added to
// the state "h_in" f32 [1,4]: out = h_out = tanh(h_in + mean(x·W)).
func slowStateful() (*onnxpb.ModelProto, error) {
	g := om.NewGraph("slow_stateful")
	x := g.Input("x", om.Float32, 1, -1)
	h := g.Input("h_in", om.Float32, 1, 4)
	rows := g.Constant(om.Int64Tensor("rows", []int64{2}, []int64{-1, 256}))
	w := g.Constant(om.UniformFloat32Tensor("W", []int64{256, 256}, 31, 0.05))
	y := g.Node("MatMul", []om.Value{g.Node("Reshape", []om.Value{x, rows}), w})
	mean := g.Node("ReduceMean", []om.Value{y}, om.AttrInt("keepdims", 0))
	out := g.NamedNode("Tanh", "out", []om.Value{g.Node("Add", []om.Value{h, mean})})
	g.Output(out, "out", om.Float32, 1, 4)
	g.Output(g.NamedNode("Identity", "h_out", []om.Value{out}), "h_out", om.Float32, 1, 4)
	return g.Model(opset)
}
