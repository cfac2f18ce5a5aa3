package integration

// OpenVINO IR models served by the real ovms binary: each IR twin answers
// as its ONNX twin over the four APIs with the same metadata; bad IR fails
// its load with an error naming the file and the layer while the other
// models keep serving; `ovms convert` writes a file that serves alike.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// irTwins are the generated IR models and their ONNX twins.
var irTwins = map[string]string{
	"dummy_ir": "dummy", "add_two_inputs_ir": "add_two_inputs", "increment_1x3x4x5_ir": "increment_1x3x4x5",
	"passthrough_u8_ir": "passthrough_u8", "scalar_ir": "scalar", "dummy_fp64_ir": "dummy_fp64",
	"no_name_output_ir": "no_name_output",
}

// irDtypes maps the KServe datatypes of the twins to TFS types.
var irDtypes = map[string]fw.DataType{"FP32": fw.DataType_DT_FLOAT, "FP64": fw.DataType_DT_DOUBLE, "UINT8": fw.DataType_DT_UINT8, "INT8": fw.DataType_DT_INT8}

// irInput is one request input built from metadata.
type irInput struct {
	name, dtype string
	shape       []int64
	values      []float64
}

func (in irInput) raw() []byte {
	var b []byte
	for _, v := range in.values {
		switch in.dtype {
		case "FP32":
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
		case "FP64":
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		default:
			b = append(b, byte(int8(v)))
			if in.dtype == "UINT8" {
				b[len(b)-1] = byte(v)
			}
		}
	}
	return b
}

// nested writes values as a JSON array nested along shape (a number for a
// scalar).
func nested(values []float64, shape []int64) string {
	if len(shape) == 0 {
		return fmt.Sprint(values[0])
	}
	step := len(values) / int(shape[0])
	parts := make([]string, shape[0])
	for i := range parts {
		parts[i] = nested(values[i*step:(i+1)*step], shape[1:])
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func irInputs(md *kpb.ModelMetadataResponse) []irInput {
	var ins []irInput
	for k, t := range md.Inputs {
		in := irInput{name: t.Name, dtype: t.Datatype, shape: []int64{}}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				d = 2
			}
			in.shape = append(in.shape, d)
			n *= int(d)
		}
		for i := range n {
			v := float64((i*7+k*3)%50) - 20
			if t.Datatype == "UINT8" {
				v = float64((i*37 + k*11) % 256)
			}
			if t.Datatype == "FP32" || t.Datatype == "FP64" {
				v += 0.25
			}
			in.values = append(in.values, v)
		}
		ins = append(ins, in)
	}
	return ins
}

// irAnswers asks model the same question over the four APIs and returns
// the answers as comparable strings.
func irAnswers(t *testing.T, s *server, model string, ins []irInput) []string {
	t.Helper()
	var answers []string
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	kreq := &kpb.ModelInferRequest{ModelName: model}
	for _, in := range ins {
		kreq.Inputs = append(kreq.Inputs, &kpb.ModelInferRequest_InferInputTensor{Name: in.name, Datatype: in.dtype, Shape: in.shape})
		kreq.RawInputContents = append(kreq.RawInputContents, in.raw())
	}
	kr, err := kc.ModelInfer(ctx(t), kreq)
	if err != nil {
		t.Fatalf("%s kserve grpc: %v", model, err)
	}
	for i, o := range kr.Outputs {
		answers = append(answers, fmt.Sprintf("kserve grpc %s %s %v %x", o.Name, o.Datatype, o.Shape, kr.RawOutputContents[i]))
	}
	var parts []string
	for _, in := range ins {
		flat, _ := json.Marshal(in.values)
		parts = append(parts, fmt.Sprintf(`{"name":%q,"shape":%s,"datatype":%q,"data":%s}`, in.name, mustJSON(in.shape), in.dtype, flat))
	}
	r := kserveREST(t, s, model, `{"inputs":[`+strings.Join(parts, ",")+`]}`)
	for _, o := range r.Outputs {
		answers = append(answers, fmt.Sprintf("kserve rest %s %s %v %s", o.Name, o.Datatype, o.Shape, compactJSON(o.Data)))
	}
	tc := tfspb.NewPredictionServiceClient(s.conn)
	treq := &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: model}, Inputs: map[string]*fw.TensorProto{}}
	for _, in := range ins {
		treq.Inputs[in.name] = &fw.TensorProto{Dtype: irDtypes[in.dtype], TensorShape: shape(in.shape...), TensorContent: in.raw()}
	}
	tr, err := tc.Predict(ctx(t), treq)
	if err != nil {
		t.Fatalf("%s tfs grpc: %v", model, err)
	}
	names := make([]string, 0, len(tr.Outputs))
	for name := range tr.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o := tr.Outputs[name]
		answers = append(answers, fmt.Sprintf("tfs grpc %s %s %v %x", name, o.Dtype, o.TensorShape, o.TensorContent))
	}
	cols := make([]string, len(ins))
	for i, in := range ins {
		cols[i] = fmt.Sprintf("%q:%s", in.name, nested(in.values, in.shape))
	}
	code, body := post(t, s.url("/v1/models/"+model+":predict"), `{"inputs":{`+strings.Join(cols, ",")+`}}`)
	if code != 200 {
		t.Fatalf("%s tfs rest: %d %s", model, code, body)
	}
	answers = append(answers, "tfs rest "+compactJSON([]byte(body)))
	return answers
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// irMetadata is a model's KServe metadata without its name and versions.
func irMetadata(t *testing.T, s *server, model string) *kpb.ModelMetadataResponse {
	t.Helper()
	md, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelMetadata(ctx(t), &kpb.ModelMetadataRequest{Name: model})
	if err != nil {
		t.Fatalf("%s metadata: %v", model, err)
	}
	return md
}

// TestIRTwinsServeAsONNX serves every IR twin beside its ONNX twin in one
// server and checks metadata and answers over KServe gRPC and REST and TFS
// gRPC and REST are the same.
func TestIRTwinsServeAsONNX(t *testing.T) {
	dir := t.TempDir()
	var entries []string
	for ir, onnx := range irTwins {
		for _, m := range []string{ir, onnx} {
			entries = append(entries, fmt.Sprintf(`{"config":{"name":%q,"base_path":%q}}`, m, filepath.Join(modelsDir, m)))
		}
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list":[`+strings.Join(entries, ",")+`]}`)
	s := startArgs(t, "--config_path", cfg)
	for ir, onnx := range irTwins {
		t.Run(ir, func(t *testing.T) {
			a, b := irMetadata(t, s, ir), irMetadata(t, s, onnx)
			if !reflect.DeepEqual(fmt.Sprint(a.Inputs), fmt.Sprint(b.Inputs)) || !reflect.DeepEqual(fmt.Sprint(a.Outputs), fmt.Sprint(b.Outputs)) {
				t.Fatalf("metadata differs:\nIR   %v %v\nONNX %v %v", a.Inputs, a.Outputs, b.Inputs, b.Outputs)
			}
			ins := irInputs(a)
			got, want := irAnswers(t, s, ir, ins), irAnswers(t, s, onnx, ins)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("answers differ:\nIR:\n%s\nONNX:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	s.alive()
}

// TestIRFloat16InputServedAsFP16: an f16 IR input is FP16 in the metadata
// and takes FP16 data.
func TestIRFloat16InputServedAsFP16(t *testing.T) {
	n := irtest.New("half")
	x := n.Parameter("x", irmodel.F16, "1,4")
	one := n.Const(irmodel.F16, []int64{1}, []byte{0x00, 0x3c}) // 1.0
	y := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{x, one},
		irtest.Port{Type: irmodel.F16, Shape: "1,4", Names: "y"})[0]
	n.Result(y, "y/sink_port_0")
	dir := filepath.Join(t.TempDir(), "half", "1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFiles(dir, "half"); err != nil {
		t.Fatal(err)
	}
	s := startAt(t, nil, "half", filepath.Dir(dir))
	md := irMetadata(t, s, "half")
	if md.Inputs[0].Datatype != "FP16" || md.Outputs[0].Datatype != "FP16" || md.Outputs[0].Name != "y" {
		t.Fatalf("metadata %v", md)
	}
	in := []byte{0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, 0x00, 0xc0} // 1, 2, 3, -2
	r, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "half",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP16", Shape: []int64{1, 4}}},
		RawInputContents: [][]byte{in}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x40, 0x00, 0x42, 0x00, 0x44, 0x00, 0xbc}; !bytes.Equal(r.RawOutputContents[0], want) { // 2, 3, 4, -1
		t.Fatalf("got %x, want %x", r.RawOutputContents[0], want)
	}
}

// TestBadIRFailsItsLoadOnly serves bad IR models beside a good one: each
// fails to load with an error naming its file and layer, the good one
// serves.
func TestBadIRFailsItsLoadOnly(t *testing.T) {
	root := t.TempDir()
	good := func() *irtest.Net {
		n := irtest.New("dummy")
		b := n.Parameter("b", irmodel.F32, "1,10")
		one := n.F32([]int64{1, 1}, 1)
		a := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{b, one},
			irtest.Port{Type: irmodel.F32, Shape: "1,10", Names: "a"})[0]
		n.Result(a, "a/sink_port_0")
		return n
	}
	unknown := irtest.New("unknown")
	p := unknown.Parameter("x", irmodel.F32, "1,2")
	y := unknown.Op("FancyOp", "opset99", nil, []irtest.Out{p}, irtest.Port{Type: irmodel.F32, Shape: "1,2"})[0]
	unknown.Result(y, "y")
	edit := func(old, new string) func(x, b []byte) ([]byte, []byte) {
		return func(x, b []byte) ([]byte, []byte) { return []byte(strings.Replace(string(x), old, new, 1)), b }
	}
	cases := []struct {
		name string
		net  *irtest.Net
		edit func(x, b []byte) ([]byte, []byte)
		want []string
	}{
		{"truncated_bin", good(), func(x, b []byte) ([]byte, []byte) { return x, b[:2] }, []string{"truncated_bin/1/model.bin", "const_1"}},
		{"offset_past_end", good(), edit(`offset="0"`, `offset="1000000"`), []string{"offset_past_end/1/model.xml", "const_1", "past the end"}},
		{"missing_edge", good(), edit(`<edge from-layer="1" from-port="0" to-layer="2" to-port="1"/>`, ``), []string{"missing_edge/1/model.xml", "add_2", "missing an edge"}},
		{"unknown_type", good(), edit(`precision="FP32"`, `precision="XF99"`), []string{"unknown_type/1/model.xml", "'b'", "XF99"}},
		{"entity_bomb", good(), func(x, b []byte) ([]byte, []byte) {
			return []byte(`<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><net name="&c;" version="11"></net>`), b
		}, []string{"entity_bomb/1/model.xml", "not an IR file"}},
		{"claims_2GB", good(), edit(`size="4"`, `size="2147483648"`), []string{"claims_2GB/1/model.xml", "const_1", "size 2147483648 is past the end"}},
		{"cycle", good(), edit(`<edge from-layer="0" from-port="0" to-layer="2" to-port="0"/>`, `<edge from-layer="2" from-port="2" to-layer="2" to-port="0"/>`),
			[]string{"cycle/1/model.xml", "cycle through layer 'add_2'"}},
		{"untranslatable", unknown, func(x, b []byte) ([]byte, []byte) { return x, b }, []string{"untranslatable/1/model.xml", "FancyOp-opset99", "fancyop_1"}},
	}
	entries := []string{fmt.Sprintf(`{"config":{"name":"good","base_path":%q}}`, filepath.Join(modelsDir, "dummy_ir"))}
	for _, c := range cases {
		dir := filepath.Join(root, c.name, "1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		x, b := c.net.Bytes()
		x, b = c.edit(x, b)
		if err := os.WriteFile(filepath.Join(dir, "model.xml"), x, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf(`{"config":{"name":%q,"base_path":%q}}`, c.name, filepath.Dir(dir)))
	}
	cfg := filepath.Join(root, "config.json")
	writeConfig(t, cfg, `{"model_config_list":[`+strings.Join(entries, ",")+`]}`)
	s := startArgs(t, "--config_path", cfg)
	if err := dummyInfer(t, s, "good", ""); err != nil {
		t.Fatalf("the good IR model does not serve: %v", err)
	}
	logs := s.log() + s.out.String()
	for _, c := range cases {
		code, body := get(t, s.url("/v1/models/"+c.name))
		if code == 200 && strings.Contains(body, `"AVAILABLE"`) {
			t.Errorf("%s: loaded: %s", c.name, body)
		}
		found := false
		for _, line := range strings.Split(logs, "\n") {
			ok := true
			for _, w := range c.want {
				ok = ok && strings.Contains(line, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("%s: no log line names all of %q", c.name, c.want)
		}
	}
	if t.Failed() {
		t.Log(logs)
	}
	if err := dummyInfer(t, s, "good", ""); err != nil {
		t.Fatalf("the good IR model stopped serving: %v", err)
	}
	s.alive()
}

// TestConvertedIRServesAsIR: `ovms convert` of an IR twin writes an ONNX
// file that the server loads and that answers as the IR itself.
func TestConvertedIRServesAsIR(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "converted", "1", "model.onnx")
	code, stdout, stderr := runOVMS(t, "convert", filepath.Join(modelsDir, "no_name_output_ir", "1", "model.xml"), "-o", out)
	if code != 0 || !strings.Contains(stdout, "Multiply-opset1") {
		t.Fatalf("convert: exit %d\n%s%s", code, stdout, stderr)
	}
	cfg := filepath.Join(root, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list":[{"config":{"name":"ir","base_path":%q}},{"config":{"name":"converted","base_path":%q}}]}`,
		filepath.Join(modelsDir, "no_name_output_ir"), filepath.Dir(filepath.Dir(out))))
	s := startArgs(t, "--config_path", cfg)
	a, b := irMetadata(t, s, "ir"), irMetadata(t, s, "converted")
	if fmt.Sprint(a.Inputs, a.Outputs) != fmt.Sprint(b.Inputs, b.Outputs) {
		t.Fatalf("metadata differs: %v %v / %v %v", a.Inputs, a.Outputs, b.Inputs, b.Outputs)
	}
	ins := irInputs(a)
	if got, want := irAnswers(t, s, "converted", ins), irAnswers(t, s, "ir", ins); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("answers differ:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
