package integration

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

func shape(dims ...int64) *fw.TensorShapeProto {
	s := &fw.TensorShapeProto{}
	for _, d := range dims {
		s.Dim = append(s.Dim, &fw.TensorShapeProto_Dim{Size: d})
	}
	return s
}

func TestTFSGRPCDummy(t *testing.T) {
	s := startServer(t, "dummy")
	pc := tfspb.NewPredictionServiceClient(s.conn)
	in := seq(10, 1)
	for name, tp := range map[string]*fw.TensorProto{
		"tensor_content": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), TensorContent: f32bytes(in...)},
		"float_val":      {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: in},
	} {
		resp, err := pc.Predict(ctx(t), &tfspb.PredictRequest{
			ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
			Inputs:    map[string]*fw.TensorProto{"b": tp},
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a := resp.Outputs["a"]
		if a == nil || a.Dtype != fw.DataType_DT_FLOAT || len(a.TensorShape.Dim) != 2 || !equal(f32s(a.TensorContent), seq(10, 2)) {
			t.Fatalf("%s: Predict output %v", name, a)
		}
	}

	md, err := pc.GetModelMetadata(ctx(t), &tfspb.GetModelMetadataRequest{
		ModelSpec: &tfspb.ModelSpec{Name: "dummy"}, MetadataField: []string{"signature_def"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sigs tfspb.SignatureDefMap
	if err := md.Metadata["signature_def"].UnmarshalTo(&sigs); err != nil {
		t.Fatal(err)
	}
	sig := sigs.SignatureDef["serving_default"]
	if md.ModelSpec.GetVersion().GetValue() != 1 || sig.Inputs["b"].Dtype != fw.DataType_DT_FLOAT || sig.Outputs["a"].TensorShape.Dim[1].Size != 10 {
		t.Fatalf("metadata %v", md)
	}

	mc := tfspb.NewModelServiceClient(s.conn)
	st, err := mc.GetModelStatus(ctx(t), &tfspb.GetModelStatusRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy", VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(1)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ModelVersionStatus) != 1 || st.ModelVersionStatus[0].State != tfspb.ModelVersionStatus_AVAILABLE || st.ModelVersionStatus[0].Status.ErrorMessage != "OK" {
		t.Fatalf("status %v", st)
	}
	if _, err := mc.HandleReloadConfigRequest(ctx(t), &tfspb.ReloadConfigRequest{}); err != nil {
		t.Fatalf("HandleReloadConfigRequest: %v", err)
	}
}

func TestTFSRESTDummy(t *testing.T) {
	s := startServer(t, "dummy")
	cases := []struct{ name, path, body, want string }{
		{"row no-named", "/v1/models/dummy:predict", `{"instances": [[1,2,3,4,5,6,7,8,9,10]]}`,
			"{\n    \"predictions\": [[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n    ]\n}"},
		{"row named", "/v1/models/dummy/versions/1:predict", `{"signature_name": "serving_default", "instances": [{"b": [1,2,3,4,5,6,7,8,9,10]}]}`,
			"{\n    \"predictions\": [[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n    ]\n}"},
		{"column named", "/v1/models/dummy:predict", `{"inputs": {"b": [[1,2,3,4,5,6,7,8,9,10]]}}`, ""},
		{"column no-named", "/v1/models/dummy:predict", `{"inputs": [[1,2,3,4,5,6,7,8,9,10]]}`, ""},
	}
	for _, c := range cases {
		code, body := post(t, s.url(c.path), c.body)
		if code != 200 {
			t.Errorf("%s: %d %s", c.name, code, body)
			continue
		}
		if c.want != "" && body != c.want {
			t.Errorf("%s: body\n%s\nwant\n%s", c.name, body, c.want)
		}
		if c.want == "" && (!strings.HasPrefix(body, "{\n    \"outputs\": [\n        [\n            2.0,\n") || !strings.Contains(body, "11.0\n")) {
			t.Errorf("%s: column body\n%s", c.name, body)
		}
	}
	code, body := get(t, s.url("/v1/models/dummy"))
	want := "{\n \"model_version_status\": [\n  {\n   \"version\": \"1\",\n   \"state\": \"AVAILABLE\",\n   \"status\": {\n    \"error_code\": \"OK\",\n    \"error_message\": \"OK\"\n   }\n  }\n ]\n}\n"
	if code != 200 || body != want {
		t.Errorf("status = %d\n%s\nwant\n%s", code, body, want)
	}
	code, body = get(t, s.url("/v1/models/dummy/versions/1/metadata"))
	if code != 200 || !strings.Contains(body, "\"@type\": \"type.googleapis.com/tensorflow.serving.SignatureDefMap\"") ||
		!strings.Contains(body, "\"dtype\": \"DT_FLOAT\"") {
		t.Errorf("metadata = %d\n%s", code, body)
	}
}

// TestTFSPredictTypedFieldsAndBroadcast sends every typed *_val encoding
// to dummy (FP32) and one value that TF Serving broadcasts to the shape.
func TestTFSPredictTypedFieldsAndBroadcast(t *testing.T) {
	s := startServer(t, "dummy")
	tc := tfspb.NewPredictionServiceClient(s.conn)
	predict := func(tp *fw.TensorProto) ([]float32, error) {
		r, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"}, Inputs: map[string]*fw.TensorProto{"b": tp}})
		if err != nil {
			return nil, err
		}
		return f32s(r.Outputs["a"].TensorContent), nil
	}
	got, err := predict(&fw.TensorProto{Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: []float32{4}})
	if err != nil || !equal(got, []float32{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}) {
		t.Fatalf("float_val broadcast: %v %v", got, err)
	}
	got, err = predict(&fw.TensorProto{Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: seq(10, 0)})
	if err != nil || !equal(got, seq(10, 1)) {
		t.Fatalf("float_val: %v %v", got, err)
	}
	// Two values for ten elements is a count error, not a broadcast.
	_, err = predict(&fw.TensorProto{Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: []float32{1, 2}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "Invalid number of values in tensor proto container - Expected: 10; Actual: 2; input name: b" {
		t.Fatalf("two values: %v", err)
	}
	// A typed field of another dtype is a precision error, in OVMS's order.
	_, err = predict(&fw.TensorProto{Dtype: fw.DataType_DT_DOUBLE, TensorShape: shape(1, 10), DoubleVal: []float64{1}})
	if st := status.Convert(err); st.Message() != "Invalid input precision - Expected: FP32; Actual: FP64; input name: b" {
		t.Fatalf("double_val to FP32: %v", err)
	}
}
