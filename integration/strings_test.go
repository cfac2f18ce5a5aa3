package integration

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// TestStringsTo2DU8Input sends strings to passthrough_u8 (a [-1,-1] U8
// input) over every API: OVMS packs them into a zero-padded [N, maxlen+1]
// matrix, which the identity model returns.
func TestStringsTo2DU8Input(t *testing.T) {
	s := startServer(t, "passthrough_u8")
	want := []byte("abc\x00\x00\x00" + "hello\x00")

	tc := tfspb.NewPredictionServiceClient(s.conn)
	tr, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "passthrough_u8"},
		Inputs: map[string]*fw.TensorProto{"input": {Dtype: fw.DataType_DT_STRING, TensorShape: shape(2), StringVal: [][]byte{[]byte("abc"), []byte("hello")}}}})
	if err != nil {
		t.Fatalf("tfs grpc: %v", err)
	}
	out := tr.Outputs["copy:0"]
	if out.Dtype != fw.DataType_DT_UINT8 || len(out.TensorShape.Dim) != 2 || out.TensorShape.Dim[1].Size != 6 || !bytes.Equal(out.TensorContent, want) {
		t.Fatalf("tfs grpc output: %v", out)
	}

	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	var raw []byte
	for _, x := range []string{"abc", "hello"} {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(len(x)))
		raw = append(raw, x...)
	}
	for name, req := range map[string]*kpb.ModelInferRequest{
		"bytes_contents": {ModelName: "passthrough_u8", Inputs: []*inT{{Name: "input", Datatype: "BYTES", Shape: []int64{2},
			Contents: &kpb.InferTensorContents{BytesContents: [][]byte{[]byte("abc"), []byte("hello")}}}}},
		"raw": {ModelName: "passthrough_u8", Inputs: []*inT{{Name: "input", Datatype: "BYTES", Shape: []int64{2}}}, RawInputContents: [][]byte{raw}},
	} {
		kr, err := kc.ModelInfer(ctx(t), req)
		if err != nil {
			t.Fatalf("kserve grpc %s: %v", name, err)
		}
		if o := kr.Outputs[0]; o.Datatype != "UINT8" || len(o.Shape) != 2 || o.Shape[1] != 6 || !bytes.Equal(kr.RawOutputContents[0], want) {
			t.Fatalf("kserve grpc %s output: %v %q", name, o, kr.RawOutputContents)
		}
	}

	r := kserveREST(t, s, "passthrough_u8", `{"inputs":[{"name":"input","datatype":"BYTES","shape":[2],"data":["abc","hello"]}]}`)
	if o := r.Outputs[0]; o.Datatype != "UINT8" || strings.ReplaceAll(string(o.Data), " ", "") != "[97,98,99,0,0,0,104,101,108,108,111,0]" {
		t.Fatalf("kserve rest output: %+v %s", o, o.Data)
	}
	code, body := post(t, s.url("/v1/models/passthrough_u8:predict"), `{"instances":[{"b64":"YWJj"},{"b64":"aGVsbG8="}]}`)
	if code != 200 || !strings.Contains(strings.Join(strings.Fields(body), ""), `[[97,98,99,0,0,0],[104,101,108,108,111,0]]`) {
		t.Fatalf("tfs rest: %d %s", code, body)
	}

	// Errors as OVMS words them.
	_, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8", Inputs: []*inT{{Name: "input", Datatype: "BYTES", Shape: []int64{1, 2},
		Contents: &kpb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), []byte("b")}}}}})
	wantErr(t, err, "Invalid number of shape dimensions - Expected number of input shape dimensions: 1; Actual: 2; input name: input")
	_, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "passthrough_u8", Inputs: []*inT{{Name: "input", Datatype: "BYTES", Shape: []int64{3},
		Contents: &kpb.InferTensorContents{BytesContents: [][]byte{[]byte("a"), []byte("b")}}}}})
	wantErr(t, err, "Invalid input batch size")
	s.alive()
}

// wantErr checks a gRPC error's message exactly (code InvalidArgument).
func wantErr(t *testing.T, err error, msg string) {
	t.Helper()
	if st, _ := status.FromError(err); err == nil || st.Code() != codes.InvalidArgument || st.Message() != msg {
		t.Errorf("error %v, want InvalidArgument %q", err, msg)
	}
}
