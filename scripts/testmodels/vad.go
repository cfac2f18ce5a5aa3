package main

import (
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// vadLSTM builds a silero-VAD-shaped model: "input" f32 [-1,512] (a batch
// of 512-sample audio windows) runs through an LSTM (hidden size 8, the
// windows as the LSTM's batch) to "output" f32 [-1,8]. ONNX Runtime 1.30's
// LSTM kernel aborts the process on a batch of 0 ("terminate called
// without an active exception"), as silero VAD models do on [0,512]: the
// model the core's zero-dimension check is tested with.
func vadLSTM() (*onnxpb.ModelProto, error) {
	const hidden, window = 8, 512
	g := om.NewGraph("vad_lstm")
	x := g.Input("input", om.Float32, -1, window)
	axis0 := g.Constant(om.Int64Tensor("axis0", []int64{1}, []int64{0}))
	seq := g.Node("Unsqueeze", []om.Value{x, axis0}) // [1, N, 512]: one step, N windows
	w := g.Constant(om.UniformFloat32Tensor("W", []int64{1, 4 * hidden, window}, 1, 0.05))
	r := g.Constant(om.UniformFloat32Tensor("R", []int64{1, 4 * hidden, hidden}, 2, 0.05))
	y := g.Node("LSTM", []om.Value{seq, w, r}, om.AttrInt("hidden_size", hidden)) // [1, 1, N, 8]
	axes := g.Constant(om.Int64Tensor("axes01", []int64{2}, []int64{0, 1}))
	g.Output(g.NamedNode("Squeeze", "output", []om.Value{y, axes}), "output", om.Float32, -1, hidden)
	return g.Model(opset)
}
