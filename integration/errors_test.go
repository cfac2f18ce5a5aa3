package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

type inT = kpb.ModelInferRequest_InferInputTensor

func TestBadRequestsGetOVMSErrors(t *testing.T) {
	s := startServer(t, "dummy")
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	tc := tfspb.NewPredictionServiceClient(s.conn)
	b40 := f32bytes(seq(10, 0)...)
	fp := func(n int) *kpb.InferTensorContents { return &kpb.InferTensorContents{Fp32Contents: seq(n, 0)} }

	kserve := []struct {
		name string
		req  *kpb.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{"unknown model", &kpb.ModelInferRequest{ModelName: "nope", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40}},
			codes.NotFound, "Model with requested name is not found"},
		{"missing version", &kpb.ModelInferRequest{ModelName: "dummy", ModelVersion: "2", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40}},
			codes.NotFound, "Model with requested version is not found"},
		{"bad version", &kpb.ModelInferRequest{ModelName: "dummy", ModelVersion: "v1"},
			codes.InvalidArgument, "invalid model version format in request"},
		{"wrong input name", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "x", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40}},
			codes.InvalidArgument, "Missing input with specific name - Required input: b"},
		{"too many inputs", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}, {Name: "c", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40, b40}},
			codes.InvalidArgument, "Invalid number of inputs - Expected: 1; Actual: 2"},
		{"wrong shape", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 11}, Contents: fp(11)}}},
			codes.InvalidArgument, "Invalid input shape - Expected: (1,10); Actual: (1,11); input name: b"},
		{"wrong batch", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{2, 10}, Contents: fp(20)}}},
			codes.InvalidArgument, "Invalid input batch size - Expected: 1; Actual: 2; input name: b"},
		{"wrong rank", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{10}, Contents: fp(10)}}},
			codes.InvalidArgument, "Invalid number of shape dimensions - Expected: (1,10); Actual: (10); input name: b"},
		{"negative dim", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, -1}}}, RawInputContents: [][]byte{b40}},
			codes.InvalidArgument, "Invalid input shape - Negative or zero dimension size is not acceptable: (1,-1); input name: b"},
		{"wrong dtype", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "INT32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40}},
			codes.InvalidArgument, "Invalid input precision - Expected: FP32; Actual: INT32; input name: b"},
		{"short raw", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40[:36]}},
			codes.InvalidArgument, "Invalid content size of tensor proto - Expected: 40 bytes; Actual: 36 bytes; input name: b"},
		{"value count", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Contents: fp(9)}}},
			codes.InvalidArgument, "Invalid number of values in tensor proto container - Expected: 10 values; Actual: 9 values; input name: b"},
		{"contents and raw", &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Contents: fp(10)}}, RawInputContents: [][]byte{b40}},
			codes.InvalidArgument, "Invalid message structure - Passing buffers both in InferInputTensor contents and in raw_input_contents is not allowed. Detected buffer in InferInputTensor contents for input: b"},
	}
	for _, c := range kserve {
		_, err := kc.ModelInfer(ctx(t), c.req)
		if st := status.Convert(err); st.Code() != c.code || st.Message() != c.msg {
			t.Errorf("kserve %s: got %v %q, want %v %q", c.name, st.Code(), st.Message(), c.code, c.msg)
		}
	}

	tfsCases := []struct {
		name string
		tp   *fw.TensorProto
		msg  string
	}{
		{"dtype", &fw.TensorProto{Dtype: fw.DataType_DT_INT32, TensorShape: shape(1, 10), TensorContent: b40}, "Invalid input precision - Expected: FP32; Actual: I32; input name: b"},
		{"value count", &fw.TensorProto{Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: seq(9, 0)}, "Invalid number of values in tensor proto container - Expected: 10; Actual: 9; input name: b"},
		{"no data", &fw.TensorProto{Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10)}, "Invalid content size of tensor proto - Expected: 40 bytes; Actual: 0 bytes; input name: b"},
	}
	for _, c := range tfsCases {
		_, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"}, Inputs: map[string]*fw.TensorProto{"b": c.tp}})
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != c.msg {
			t.Errorf("tfs %s: got %v %q, want %q", c.name, st.Code(), st.Message(), c.msg)
		}
	}
	_, err := tc.GetModelMetadata(ctx(t), &tfspb.GetModelMetadataRequest{MetadataField: []string{"signature_def"}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "model_spec missing in request" {
		t.Errorf("metadata without spec: %v", err)
	}
	_, err = tc.GetModelMetadata(ctx(t), &tfspb.GetModelMetadataRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"}, MetadataField: []string{"inputs"}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "Invalid signature name" {
		t.Errorf("metadata with a bad field: %v", err)
	}
	_, err = tfspb.NewModelServiceClient(s.conn).GetModelStatus(ctx(t), &tfspb.GetModelStatusRequest{
		ModelSpec: &tfspb.ModelSpec{Name: "dummy", VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(3)}}})
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "Model with requested version is not found" {
		t.Errorf("status of a missing version: %v", err)
	}

	rest := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/v2/models/dummy/infer", `{"inputs": [`, 412, "The file is not valid json"},
		{"POST", "/v2/models/dummy/infer", `{"id": "1"}`, 400, "Invalid JSON structure, missing inputs"},
		{"POST", "/v2/models/nope/infer", `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`, 404, "Model with requested name is not found"},
		{"POST", "/v2/models/dummy/versions/7/infer", `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`, 404, "Model with requested version is not found"},
		{"POST", "/v2/models/dummy/infer", `{"inputs":[{"name":"b","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, 400, "Invalid input shape - Expected: (1,10); Actual: (1,3); input name: b"},
		{"POST", "/v2/models/dummy/infer", `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3]}]}`, 400, "Invalid number of values in tensor proto container - Expected: 10 values; Actual: 3 values; input name: b"},
		{"POST", "/v2/models/dummy/infer", `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":["x"]}]}`, 400, "Could not parse input content. Not valid ndarray detected"},
		{"GET", "/v2/models/dummy/infer", "", 406, "Unsupported method"},
		{"GET", "/v3/nothing", "", 400, "Invalid request URL"},
		{"POST", "/v1/models/dummy:predict", `{"instances": [[1,2,3]], "inputs": {}}`, 400, "Invalid JSON structure. Could not detect row or column format"},
		{"POST", "/v1/models/dummy:predict", `[1, 2]`, 400, "Request body should be JSON object"},
		{"POST", "/v1/models/dummy:predict", `{"instances": [[1,2,3]]}`, 400, "Invalid input shape - Expected: (1,10); Actual: (1,3); input name: b"},
		{"POST", "/v1/models/dummy:predict", `{"instances": }`, 412, "The file is not valid json"},
		{"POST", "/v1/models/nope:predict", `{"instances": [[1]]}`, 404, "Model with requested name is not found"},
		{"POST", "/v1/models/dummy/versions/5:predict", `{"instances": [[1]]}`, 404, "Model with requested version is not found"},
		{"POST", "/v1/models/dummy:classify", `{}`, 404, "Requested REST resource not found"},
		{"GET", "/v1/models/nope", "", 404, "Model with requested name is not found"},
	}
	for _, c := range rest {
		req, _ := http.NewRequest(c.method, s.url(c.path), strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		if resp.StatusCode != c.code || !strings.HasPrefix(body, `{"error":"`+c.msg) {
			t.Errorf("%s %s %s: got %d %s, want %d %q", c.method, c.path, c.body, resp.StatusCode, body, c.code, c.msg)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: content type %q", c.method, c.path, ct)
		}
	}

	// Nothing above took the server down or broke the model.
	s.alive()
	r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{b40}})
	if err != nil || !equal(f32s(r.RawOutputContents[0]), seq(10, 1)) {
		t.Fatalf("good request after bad ones: %v %v", r, err)
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
