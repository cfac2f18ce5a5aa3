package main

// This file holds the OpenVINO IR twins of the example models: the same
// inputs, outputs, element types and computation as the ONNX model of the
// same name without the _ir suffix, written as <out>/<name>/1/model.xml and
// model.bin with devices/irmodel/irtest, so that tests can serve both and
// compare their answers.

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest/irresnet"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// IRModel is one generated IR test model: Build returns the net written to
// <out>/<Name>/1/model.xml and model.bin; Twin is the ONNX model it matches.
type IRModel struct {
	Name, Twin string
	Build      func() *irtest.Net
}

// IRModels lists the IR twins in generation order. Layer and tensor names
// follow OVMS's IR test models (dummy.xml: Parameter "b", Result fed by the
// Add whose tensor is "a"; no_name_output: two i8 inputs, the Multiply and
// Add results with no tensor names, served as out_0 and out_1).
var IRModels = []IRModel{
	{Name: "dummy_ir", Twin: "dummy", Build: func() *irtest.Net { return irAddOne("dummy", "b", "a", irmodel.F32, "1,10") }},
	{Name: "add_two_inputs_ir", Twin: "add_two_inputs", Build: irAddTwoInputs},
	{Name: "increment_1x3x4x5_ir", Twin: "increment_1x3x4x5", Build: func() *irtest.Net {
		return irAddOne("increment_1x3x4x5", "input", "output", irmodel.F32, "1,3,4,5")
	}},
	{Name: "passthrough_u8_ir", Twin: "passthrough_u8", Build: func() *irtest.Net {
		return irIdentity("passthrough", "input", "copy:0", irmodel.U8, "?,?", "Add", 0)
	}},
	{Name: "scalar_ir", Twin: "scalar", Build: func() *irtest.Net {
		return irIdentity("scalar", "model_scalar_input", "model_scalar_output", irmodel.F32, "", "Multiply", 1)
	}},
	{Name: "dummy_fp64_ir", Twin: "dummy_fp64", Build: func() *irtest.Net { return irAddOne("dummy_fp64", "b", "a", irmodel.F64, "?,10") }},
	{Name: "no_name_output_ir", Twin: "no_name_output", Build: irNoNameOutput},
}

// scalarBytes is v as one element of type t, little-endian.
func scalarBytes(t irmodel.ElementType, v float64) []byte {
	switch t {
	case irmodel.F32:
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v)))
	case irmodel.F64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
	case irmodel.U8, irmodel.I8:
		return []byte{byte(int8(v))}
	}
	panic(fmt.Sprintf("testmodels: no constant of type %s", t))
}

// irAddOne is output = input + 1, the constant shaped [1,...,1] as in OVMS's
// dummy.xml.
func irAddOne(name, input, output string, t irmodel.ElementType, shape string) *irtest.Net {
	n := irtest.New(name)
	x := n.Parameter(input, t, shape)
	rank := len(splitDims(shape))
	ones := make([]int64, rank)
	for i := range ones {
		ones[i] = 1
	}
	one := n.Const(t, ones, scalarBytes(t, 1))
	y := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{x, one},
		irtest.Port{Type: t, Shape: shape, Names: output})[0]
	n.Name(y, output)
	n.Result(y, output+"/sink_port_0")
	return n
}

// irIdentity is output = input op c (Add 0, Multiply 1): OVMS's passthrough
// model is such an Add, and a Result fed straight by a Parameter would
// carry the input's name.
func irIdentity(name, input, output string, t irmodel.ElementType, shape, op string, c float64) *irtest.Net {
	n := irtest.New(name)
	x := n.Parameter(input, t, shape)
	k := n.Const(t, nil, scalarBytes(t, c))
	y := n.Op(op, "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{x, k},
		irtest.Port{Type: t, Shape: shape, Names: output})[0]
	n.Result(y, "copy/sink_port_0")
	return n
}

// irAddTwoInputs is sum = input1 + input2 over f32 [1,10].
func irAddTwoInputs() *irtest.Net {
	n := irtest.New("add_two_inputs")
	a := n.Parameter("input1", irmodel.F32, "1,10")
	b := n.Parameter("input2", irmodel.F32, "1,10")
	s := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{a, b},
		irtest.Port{Type: irmodel.F32, Shape: "1,10", Names: "sum"})[0]
	n.Result(s, "sum/sink_port_0")
	return n
}

// irNoNameOutput is OVMS's no_name_output: i8 [1,10] inputs input1 and
// input2; the outputs, in Result order, input2*input1 and input2+input1,
// have no tensor names.
func irNoNameOutput() *irtest.Net {
	n := irtest.New("no_name_output")
	a := n.Parameter("input1", irmodel.I8, "1,10")
	b := n.Parameter("input2", irmodel.I8, "1,10")
	attrs := map[string]string{"auto_broadcast": "numpy"}
	port := irtest.Port{Type: irmodel.I8, Shape: "1,10"}
	sum := n.Op("Add", "opset1", attrs, []irtest.Out{b, a}, port)[0]
	prod := n.Op("Multiply", "opset1", attrs, []irtest.Out{b, a}, port)[0]
	n.Result(prod, "Result_5")
	n.Result(sum, "Result_6")
	return n
}

// noNameOutput is the ONNX twin of irNoNameOutput, its outputs named as
// ovms names unnamed IR outputs. Opset 14: Mul and Add take int8 from there.
func noNameOutput() (*onnxpb.ModelProto, error) {
	g := om.NewGraph("no_name_output")
	a := g.Input("input1", om.Int8, 1, 10)
	b := g.Input("input2", om.Int8, 1, 10)
	g.Output(g.NamedNode("Mul", "out_0", []om.Value{b, a}), "out_0", om.Int8, 1, 10)
	g.Output(g.NamedNode("Add", "out_1", []om.Value{b, a}), "out_1", om.Int8, 1, 10)
	return g.Model(14)
}

// dummyFP64 is b f64 [?,10] -> a = b + 1.
func dummyFP64() (*onnxpb.ModelProto, error) {
	g := om.NewGraph("dummy_fp64")
	x := g.Input("b", om.Float64, -1, 10)
	one := g.Constant(om.RawTensor("one", om.Float64, []int64{1, 1}, scalarBytes(irmodel.F64, 1)))
	g.Output(g.NamedNode("Add", "a", []om.Value{x, one}), "a", om.Float64, -1, 10)
	return g.Model(opset)
}

func splitDims(shape string) []string {
	if shape == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i <= len(shape); i++ {
		if i == len(shape) || shape[i] == ',' {
			out = append(out, shape[start:i])
			start = i + 1
		}
	}
	return out
}

// generateIR writes every IR model under dir, printing one line to w for
// each file written; files whose bytes would not change are left alone.
func generateIR(dir string, w io.Writer) error {
	for _, m := range append(IRModels[:len(IRModels):len(IRModels)], StatefulIRModels...) {
		xmlData, bin := m.Build().Bytes()
		for _, f := range []struct {
			name string
			data []byte
		}{{"model.xml", xmlData}, {"model.bin", bin}} {
			path := filepath.Join(dir, m.Name, "1", f.name)
			same, err := unchanged(path, f.data)
			if err != nil {
				return fmt.Errorf("model %s: %w", m.Name, err)
			}
			if same {
				continue
			}
			if err := om.WriteBytes(path, f.data); err != nil {
				return fmt.Errorf("model %s: %w", m.Name, err)
			}
			fmt.Fprintf(w, "wrote %s (%d bytes)\n", path, len(f.data))
		}
	}
	return nil
}

// Bench IR models: the ResNet-50-shaped IR (f32 weights) and its ONNX twin
// with the same weights (devices/irmodel/irtest/irresnet), for the IR load
// time target of make bench's startup group.
const (
	BenchIR     = "resnet50_ir"
	BenchIRTwin = "resnet50_ir_onnx"
)

// generateBenchIR writes BenchIR (model.xml + model.bin) and BenchIRTwin
// (model.onnx) under dir; files whose bytes would not change are left alone.
func generateBenchIR(dir string, w io.Writer) error {
	net, twin, err := irresnet.Build(irresnet.ResNet50(irresnet.F32))
	if err != nil {
		return fmt.Errorf("model %s: %w", BenchIR, err)
	}
	xmlData, bin := net.Bytes()
	onnxData, err := om.Marshal(twin)
	if err != nil {
		return fmt.Errorf("model %s: %w", BenchIRTwin, err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, BenchIR, "1", "model.xml"), xmlData},
		{filepath.Join(dir, BenchIR, "1", "model.bin"), bin},
		{filepath.Join(dir, BenchIRTwin, "1", "model.onnx"), onnxData},
	} {
		same, err := unchanged(f.path, f.data)
		if err != nil {
			return err
		}
		if same {
			continue
		}
		if err := om.WriteBytes(f.path, f.data); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (%d bytes)\n", f.path, len(f.data))
	}
	return nil
}
