package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// tensor is an expected graph input or output; -1 is a dynamic dimension.
type tensor struct {
	name string
	t    om.DataType
	dims []int64
}

// expected lists, for each non-bench model, the inputs and outputs that
// tests and docs rely on.
var expected = map[string]struct{ inputs, outputs []tensor }{
	"detection": {
		[]tensor{{"image", om.Float32, []int64{1, 3, 64, 64}}},
		[]tensor{{"detection", om.Float32, []int64{1, 1, 4, 7}}}},
	"classification": {
		[]tensor{{"input", om.Float32, []int64{1, 3, 32, 32}}},
		[]tensor{{"probabilities", om.Float32, []int64{1, 3}}}},
	"rnn_stateful": {
		[]tensor{{"x", om.Float32, []int64{1, 4}}, {"h_in", om.Float32, []int64{1, 4}}},
		[]tensor{{"out", om.Float32, []int64{1, 4}}, {"h_out", om.Float32, []int64{1, 4}}}},
	"slow_stateful": {
		[]tensor{{"x", om.Float32, []int64{1, -1}}, {"h_in", om.Float32, []int64{1, 4}}},
		[]tensor{{"out", om.Float32, []int64{1, 4}}, {"h_out", om.Float32, []int64{1, 4}}}},
	"vad_stateful": {
		[]tensor{{"input", om.Float32, []int64{-1, 64}}, {"state", om.Float32, []int64{2, -1, 8}}},
		[]tensor{{"output", om.Float32, []int64{-1, 1}}, {"stateN", om.Float32, []int64{2, -1, 8}}}},
	"dummy": {
		[]tensor{{"b", om.Float32, []int64{1, 10}}},
		[]tensor{{"a", om.Float32, []int64{1, 10}}}},
	"add_two_inputs": {
		[]tensor{{"input1", om.Float32, []int64{1, 10}}, {"input2", om.Float32, []int64{1, 10}}},
		[]tensor{{"sum", om.Float32, []int64{1, 10}}}},
	"increment_1x3x4x5": {
		[]tensor{{"input", om.Float32, []int64{1, 3, 4, 5}}},
		[]tensor{{"output", om.Float32, []int64{1, 3, 4, 5}}}},
	"passthrough_u8": {
		[]tensor{{"input", om.Uint8, []int64{-1, -1}}},
		[]tensor{{"copy:0", om.Uint8, []int64{-1, -1}}}},
	"scalar": {
		[]tensor{{"model_scalar_input", om.Float32, []int64{}}},
		[]tensor{{"model_scalar_output", om.Float32, []int64{}}}},
	"string_passthrough": {
		[]tensor{{"my_name", om.String, []int64{-1}}},
		[]tensor{{"my_name", om.String, []int64{-1}}}},
	"dummy_dynamic": {
		[]tensor{{"b", om.Float32, []int64{-1, -1}}},
		[]tensor{{"a", om.Float32, []int64{-1, -1}}}},
	"image_nhwc": {
		[]tensor{{"image", om.Float32, []int64{1, 4, 4, 3}}},
		[]tensor{{"pixels", om.Float32, []int64{1, 4, 4, 3}}}},
	"image_any": {
		[]tensor{{"image", om.Uint8, []int64{-1, -1, -1, 3}}},
		[]tensor{{"pixels", om.Uint8, []int64{-1, -1, -1, 3}}}},
	"dummy_fp64": {
		[]tensor{{"b", om.Float64, []int64{-1, 10}}},
		[]tensor{{"a", om.Float64, []int64{-1, 10}}}},
	"no_name_output": {
		[]tensor{{"input1", om.Int8, []int64{1, 10}}, {"input2", om.Int8, []int64{1, 10}}},
		[]tensor{{"out_0", om.Int8, []int64{1, 10}}, {"out_1", om.Int8, []int64{1, 10}}}},
	"vad_lstm": {
		[]tensor{{"input", om.Float32, []int64{-1, 512}}},
		[]tensor{{"output", om.Float32, []int64{-1, 8}}}},
}

func checkTensors(t *testing.T, what string, got []*onnxpb.ValueInfoProto, want []tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		tt := got[i].GetType().GetTensorType()
		if got[i].GetName() != w.name || om.DataType(tt.GetElemType()) != w.t {
			t.Errorf("%s %d: %s %s, want %s %s", what, i, got[i].GetName(), om.DataType(tt.GetElemType()), w.name, w.t)
		}
		if tt.GetShape() == nil {
			t.Fatalf("%s %s: no shape", what, w.name)
		}
		dims := []int64{}
		for _, d := range tt.GetShape().GetDim() {
			switch {
			case d.GetDimParam() != "":
				dims = append(dims, -1)
			case d.GetValue() == nil: // an output's dynamic dimension, left to ONNX Runtime's inference
				if !strings.HasSuffix(what, "output") {
					t.Errorf("%s %s: dimension with neither value nor param", what, w.name)
				}
				dims = append(dims, -1)
			default:
				dims = append(dims, d.GetDimValue())
			}
		}
		if len(dims) != len(w.dims) {
			t.Errorf("%s %s: dims %v, want %v", what, w.name, dims, w.dims)
			continue
		}
		for j := range dims {
			if dims[j] != w.dims[j] {
				t.Errorf("%s %s: dims %v, want %v", what, w.name, dims, w.dims)
				break
			}
		}
	}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := generate(dir, false, &out); err != nil {
		t.Fatal(err)
	}
	irs := len(IRModels) + len(StatefulIRModels)
	if lines := strings.Count(out.String(), "\n"); lines != len(expected)+2*irs {
		t.Errorf("first run printed %d lines, want %d:\n%s", lines, len(expected)+2*irs, out.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(expected)+irs {
		t.Errorf("generated %d models, want %d", len(entries), len(expected)+irs)
	}
	for name, want := range expected {
		t.Run(name, func(t *testing.T) {
			m, err := om.Load(filepath.Join(dir, name, "1", "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			if m.GetIrVersion() != om.IRVersion || m.GetOpsetImport()[0].GetVersion() < opset {
				t.Errorf("ir_version %d opset %v", m.GetIrVersion(), m.GetOpsetImport())
			}
			checkTensors(t, "input", m.GetGraph().GetInput(), want.inputs)
			checkTensors(t, "output", m.GetGraph().GetOutput(), want.outputs)
		})
	}

	before, err := os.Stat(filepath.Join(dir, "dummy", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := generate(dir, false, &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("second run wrote files:\n%s", out.String())
	}
	after, err := os.Stat(filepath.Join(dir, "dummy", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("second run touched dummy/1/model.onnx")
	}
}

func TestGenerateRewritesChangedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dummy", "1", "model.onnx")
	if err := om.WriteBytes(path, []byte("stale")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := generate(dir, false, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), path) {
		t.Errorf("stale %s not rewritten:\n%s", path, out.String())
	}
	if _, err := om.Load(path); err != nil {
		t.Error(err)
	}
}

func TestModelNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Models {
		if seen[m.Name] {
			t.Errorf("model %s listed twice", m.Name)
		}
		seen[m.Name] = true
		if !m.Bench && expected[m.Name].inputs == nil {
			t.Errorf("model %s has no expectations in this test", m.Name)
		}
	}
}
