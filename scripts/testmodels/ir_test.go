package main

import (
	"bytes"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irtoonnx"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// TestIRTwins: every IR model translates to a model with the inputs and
// outputs (names, element types, dims) of its ONNX twin, and both give the
// same bytes in ONNX Runtime for the same inputs.
func TestIRTwins(t *testing.T) {
	requireORT(t)
	twins := map[string]Model{}
	for _, m := range Models {
		twins[m.Name] = m
	}
	for _, irm := range IRModels {
		t.Run(irm.Name, func(t *testing.T) {
			twin, ok := twins[irm.Twin]
			if !ok {
				t.Fatalf("no ONNX model %s", irm.Twin)
			}
			xmlData, bin := irm.Build().Bytes()
			parsed, err := irmodel.Parse(xmlData, bin)
			if err != nil {
				t.Fatal(err)
			}
			res, err := irtoonnx.Translate(parsed, irtoonnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := expected[irm.Twin]
			checkTensors(t, "input", res.Model.GetGraph().GetInput(), want.inputs)
			checkTensors(t, "output", res.Model.GetGraph().GetOutput(), want.outputs)
			irBytes, err := om.Marshal(res.Model)
			if err != nil {
				t.Fatal(err)
			}
			onnx, err := twin.Build()
			if err != nil {
				t.Fatal(err)
			}
			onnxBytes, err := om.Marshal(onnx)
			if err != nil {
				t.Fatal(err)
			}
			a, b := runModel(t, irBytes, want), runModel(t, onnxBytes, want)
			for i := range a {
				if !bytes.Equal(a[i], b[i]) {
					t.Errorf("output %s: IR gives %v, ONNX %v", want.outputs[i].name, a[i], b[i])
				}
			}
		})
	}
}

// runModel runs model on inputs filled with a fixed pattern (dynamic dims
// as 2) and returns the outputs' bytes.
func runModel(t *testing.T, model []byte, io struct{ inputs, outputs []tensor }) [][]byte {
	t.Helper()
	s, err := ort.NewSession(model, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var names []string
	var vals []*ort.Value
	for k, in := range io.inputs {
		shape := make([]int64, len(in.dims))
		n := int64(1)
		for i, d := range in.dims {
			shape[i] = d
			if d < 0 {
				shape[i] = 2
			}
			n *= shape[i]
		}
		raw := make([]byte, n*int64(ort.ElementType(in.t).Size()))
		for i := range raw {
			raw[i] = byte(i*7 + k*3 + 1)
		}
		v, err := ort.NewTensorCopy(ort.ElementType(in.t), shape, raw)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		names = append(names, in.name)
		vals = append(vals, v)
	}
	var outNames []string
	for _, o := range io.outputs {
		outNames = append(outNames, o.name)
	}
	outs := make([]*ort.Value, len(outNames))
	if err := s.Run(names, vals, outNames, outs); err != nil {
		t.Fatal(err)
	}
	res := make([][]byte, len(outs))
	for i, v := range outs {
		res[i] = bytes.Clone(v.Bytes())
		v.Close()
	}
	return res
}
