package main

import (
	"testing"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
)

func TestBenchModels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100 MB model")
	}
	want := map[string]struct{ in, out []tensor }{
		"resnet50": {
			[]tensor{{"input", om.Float32, []int64{1, 3, 224, 224}}},
			[]tensor{{"output", om.Float32, []int64{1, 1000}}}},
		"add_one_1x3x1024x1024": {
			[]tensor{{"input", om.Float32, []int64{1, 3, 1024, 1024}}},
			[]tensor{{"output", om.Float32, []int64{1, 3, 1024, 1024}}}},
		"rnn_stateful_256": {
			[]tensor{{"x", om.Float32, []int64{1, 256}}, {"h_in", om.Float32, []int64{1, 256}}},
			[]tensor{{"out", om.Float32, []int64{1, 256}}, {"h_out", om.Float32, []int64{1, 256}}}},
		"small_cnn": {
			[]tensor{{"input", om.Float32, []int64{-1, 3, 32, 32}}},
			[]tensor{{"output", om.Float32, []int64{-1, 10}}}},
		"scale_cnn_tiny": {
			[]tensor{{"input", om.Float32, []int64{-1, 3, 32, 32}}},
			[]tensor{{"output", om.Float32, []int64{-1, 10}}}},
		"scale_cnn_small": {
			[]tensor{{"input", om.Float32, []int64{-1, 3, 32, 32}}},
			[]tensor{{"output", om.Float32, []int64{-1, 10}}}},
	}
	for _, m := range Models {
		if !m.Bench {
			continue
		}
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("bench model %s has no expectations in this test", m.Name)
			continue
		}
		model, err := m.Build()
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		checkTensors(t, m.Name+" input", model.GetGraph().GetInput(), w.in)
		checkTensors(t, m.Name+" output", model.GetGraph().GetOutput(), w.out)
		if m.Name != "resnet50" {
			continue
		}
		ops := map[string]int{}
		for _, n := range model.GetGraph().GetNode() {
			ops[n.GetOpType()]++
		}
		// 1 stem conv, 3 per bottleneck (16 blocks), 4 projection shortcuts.
		if ops["Conv"] != 53 || ops["Add"] != 16 || ops["MaxPool"] != 1 || ops["Gemm"] != 1 {
			t.Errorf("resnet50 ops = %v", ops)
		}
		params := 0
		for _, init := range model.GetGraph().GetInitializer() {
			params += len(init.GetRawData()) / 4
		}
		if params < 25_000_000 || params > 26_000_000 {
			t.Errorf("resnet50 has %d parameters, want about 25.5M", params)
		}
	}
}
