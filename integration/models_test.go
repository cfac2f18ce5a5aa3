package integration

import (
	"encoding/json"
	"strings"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// kserveJSON is the part of a KServe REST infer response the tests read.
type kserveJSON struct {
	Outputs []struct {
		Name     string          `json:"name"`
		Datatype string          `json:"datatype"`
		Shape    []int64         `json:"shape"`
		Data     json.RawMessage `json:"data"`
	} `json:"outputs"`
}

func kserveREST(t *testing.T, s *server, model, body string) kserveJSON {
	t.Helper()
	code, out := post(t, s.url("/v2/models/"+model+"/infer"), body)
	if code != 200 {
		t.Fatalf("%s infer: %d %s", model, code, out)
	}
	var r kserveJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

func TestAddTwoInputsAllSurfaces(t *testing.T) {
	s := startServer(t, "add_two_inputs")
	a, b := seq(10, 1), seq(10, 100)
	want := make([]float32, 10)
	for i := range want {
		want[i] = a[i] + b[i]
	}
	// KServe gRPC
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	kr, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "add_two_inputs",
		Inputs: []*kpb.ModelInferRequest_InferInputTensor{
			{Name: "input2", Datatype: "FP32", Shape: []int64{1, 10}},
			{Name: "input1", Datatype: "FP32", Shape: []int64{1, 10}},
		},
		RawInputContents: [][]byte{f32bytes(b...), f32bytes(a...)}})
	if err != nil || !equal(f32s(kr.RawOutputContents[0]), want) || kr.Outputs[0].Name != "sum" {
		t.Fatalf("kserve grpc: %v %v", kr, err)
	}
	// TFS gRPC
	tc := tfspb.NewPredictionServiceClient(s.conn)
	tr, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "add_two_inputs"},
		Inputs: map[string]*fw.TensorProto{
			"input1": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), TensorContent: f32bytes(a...)},
			"input2": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: b},
		}})
	if err != nil || !equal(f32s(tr.Outputs["sum"].TensorContent), want) {
		t.Fatalf("tfs grpc: %v %v", tr, err)
	}
	// KServe REST
	r := kserveREST(t, s, "add_two_inputs", `{"inputs":[
		{"name":"input1","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]},
		{"name":"input2","shape":[1,10],"datatype":"FP32","data":[[100,101,102,103,104,105,106,107,108,109]]}]}`)
	var got []float32
	if err := json.Unmarshal(r.Outputs[0].Data, &got); err != nil || !equal(got, want) {
		t.Fatalf("kserve rest: %s %v", r.Outputs[0].Data, err)
	}
	// TFS REST, row format with named instances
	code, body := post(t, s.url("/v1/models/add_two_inputs:predict"),
		`{"instances":[{"input1":[1,2,3,4,5,6,7,8,9,10],"input2":[100,101,102,103,104,105,106,107,108,109]}]}`)
	var pr struct{ Predictions [][]float32 }
	if code != 200 || json.Unmarshal([]byte(body), &pr) != nil || !equal(pr.Predictions[0], want) {
		t.Fatalf("tfs rest: %d %s", code, body)
	}
}

func TestIncrement4D(t *testing.T) {
	s := startServer(t, "increment_1x3x4x5")
	in := seq(60, -30)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "increment_1x3x4x5",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 3, 4, 5}}},
		RawInputContents: [][]byte{f32bytes(in...)}})
	if err != nil {
		t.Fatal(err)
	}
	if !equal(f32s(r.RawOutputContents[0]), seq(60, -29)) || len(r.Outputs[0].Shape) != 4 || r.Outputs[0].Shape[3] != 5 {
		t.Fatalf("increment: %v", r)
	}
}

func TestDynamicUint8Passthrough(t *testing.T) {
	s := startServer(t, "passthrough_u8")
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	md, err := kc.ModelMetadata(ctx(t), &kpb.ModelMetadataRequest{Name: "passthrough_u8"})
	if err != nil || md.Inputs[0].Shape[0] != -1 || md.Inputs[0].Shape[1] != -1 || md.Inputs[0].Datatype != "UINT8" {
		t.Fatalf("metadata %v %v", md, err)
	}
	for _, dims := range [][]int64{{1, 1}, {3, 5}, {0, 4}} {
		n := int(dims[0] * dims[1])
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(250 + i)
		}
		r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "UINT8", Shape: dims}},
			RawInputContents: [][]byte{data}})
		if err != nil {
			t.Fatalf("%v: %v", dims, err)
		}
		if string(r.RawOutputContents[0]) != string(data) || r.Outputs[0].Shape[0] != dims[0] || r.Outputs[0].Shape[1] != dims[1] {
			t.Fatalf("%v: got %v shape %v", dims, r.RawOutputContents[0], r.Outputs[0].Shape)
		}
	}
	// TFS REST column format with uint8 values.
	code, body := post(t, s.url("/v1/models/passthrough_u8:predict"), `{"inputs": {"input": [[1, 2, 255], [4, 5, 6]]}}`)
	compact := strings.Join(strings.Fields(body), "")
	if code != 200 || compact != `{"outputs":[[1,2,255],[4,5,6]]}` {
		t.Fatalf("tfs rest: %d %s", code, body)
	}
}

func TestScalarModel(t *testing.T) {
	s := startServer(t, "scalar")
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "scalar",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "model_scalar_input", Datatype: "FP32", Shape: []int64{}}},
		RawInputContents: [][]byte{f32bytes(4.5)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Outputs[0].Shape) != 0 || !equal(f32s(r.RawOutputContents[0]), []float32{4.5}) {
		t.Fatalf("scalar: %v", r)
	}
	out := kserveREST(t, s, "scalar", `{"inputs":[{"name":"model_scalar_input","shape":[],"datatype":"FP32","data":[2.5]}]}`)
	if string(out.Outputs[0].Data) != "[2.5]" || len(out.Outputs[0].Shape) != 0 {
		t.Fatalf("scalar rest: %+v", out)
	}
	code, body := post(t, s.url("/v1/models/scalar:predict"), `{"inputs": {"model_scalar_input": 7.25}}`)
	if code != 200 || strings.Join(strings.Fields(body), "") != `{"outputs":7.25}` {
		t.Fatalf("scalar tfs rest: %d %s", code, body)
	}
}

func TestStringModel(t *testing.T) {
	s := startServer(t, "string_passthrough")
	words := [][]byte{[]byte("hello"), []byte(""), []byte("żółw")}
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "string_passthrough",
		Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "my_name", Datatype: "BYTES", Shape: []int64{3},
			Contents: &kpb.InferTensorContents{BytesContents: words}}}})
	if err != nil {
		t.Fatal(err)
	}
	raw := r.RawOutputContents[0]
	want := "\x05\x00\x00\x00hello\x00\x00\x00\x00\x07\x00\x00\x00żółw" // żółw is 7 bytes of UTF-8
	if r.Outputs[0].Datatype != "BYTES" || string(raw) != want {
		t.Fatalf("string output %q", raw)
	}
	tc := tfspb.NewPredictionServiceClient(s.conn)
	tr, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "string_passthrough"},
		Inputs: map[string]*fw.TensorProto{"my_name": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(3), StringVal: words}}})
	if err != nil || len(tr.Outputs["my_name"].StringVal) != 3 || string(tr.Outputs["my_name"].StringVal[2]) != "żółw" {
		t.Fatalf("tfs strings: %v %v", tr, err)
	}
	out := kserveREST(t, s, "string_passthrough", `{"inputs":[{"name":"my_name","shape":[2],"datatype":"BYTES","data":["a","bc"]}]}`)
	if string(out.Outputs[0].Data) != `["a","bc"]` && strings.Join(strings.Fields(string(out.Outputs[0].Data)), "") != `["a","bc"]` {
		t.Fatalf("kserve rest strings: %s", out.Outputs[0].Data)
	}
}
