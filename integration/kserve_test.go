package integration

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func seq(n int, start float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = start + float32(i)
	}
	return out
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKServeGRPCDummy(t *testing.T) {
	s := startServer(t, "dummy")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	live, err := c.ServerLive(ctx(t), &kpb.ServerLiveRequest{})
	if err != nil || !live.Live {
		t.Fatalf("ServerLive %v %v", live, err)
	}
	ready, err := c.ServerReady(ctx(t), &kpb.ServerReadyRequest{})
	if err != nil || !ready.Ready {
		t.Fatalf("ServerReady %v %v", ready, err)
	}
	mr, err := c.ModelReady(ctx(t), &kpb.ModelReadyRequest{Name: "dummy"})
	if err != nil || !mr.Ready {
		t.Fatalf("ModelReady %v %v", mr, err)
	}
	sm, err := c.ServerMetadata(ctx(t), &kpb.ServerMetadataRequest{})
	if err != nil || sm.Name != "OpenVINO Model Server" {
		t.Fatalf("ServerMetadata %v %v", sm, err)
	}
	md, err := c.ModelMetadata(ctx(t), &kpb.ModelMetadataRequest{Name: "dummy"})
	if err != nil {
		t.Fatal(err)
	}
	if md.Platform != "OpenVINO" || len(md.Versions) != 1 || md.Versions[0] != "1" ||
		md.Inputs[0].Name != "b" || md.Inputs[0].Datatype != "FP32" || md.Inputs[0].Shape[1] != 10 || md.Outputs[0].Name != "a" {
		t.Fatalf("ModelMetadata %v", md)
	}

	in := seq(10, 1)
	// raw_input_contents
	resp, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{
		ModelName: "dummy", Id: "req-1",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		RawInputContents: [][]byte{f32bytes(in...)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ModelName != "dummy" || resp.ModelVersion != "1" || resp.Id != "req-1" || resp.Outputs[0].Name != "a" ||
		resp.Outputs[0].Datatype != "FP32" || !equal(f32s(resp.RawOutputContents[0]), seq(10, 2)) {
		t.Fatalf("ModelInfer raw: %v", resp)
	}
	// typed contents, explicit version
	resp, err = c.ModelInfer(ctx(t), &kpb.ModelInferRequest{
		ModelName: "dummy", ModelVersion: "1",
		Inputs: []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10},
			Contents: &kpb.InferTensorContents{Fp32Contents: in}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !equal(f32s(resp.RawOutputContents[0]), seq(10, 2)) {
		t.Fatalf("ModelInfer contents: %v", f32s(resp.RawOutputContents[0]))
	}
}

func TestKServeRESTDummy(t *testing.T) {
	s := startServer(t, "dummy")
	for _, path := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/dummy/ready", "/v2/models/dummy/versions/1/ready"} {
		code, _ := get(t, s.url(path))
		if code != 200 {
			t.Errorf("GET %s = %d", path, code)
		}
	}
	code, body := get(t, s.url("/v2/models/dummy"))
	want := `{"name":"dummy","versions":["1"],"platform":"OpenVINO","inputs":[{"name":"b","datatype":"FP32","shape":[1,10]}],"outputs":[{"name":"a","datatype":"FP32","shape":[1,10]}]}`
	if code != 200 || body != want {
		t.Errorf("metadata = %d %s\nwant %s", code, body, want)
	}
	code, body = post(t, s.url("/v2/models/dummy/infer"), `{"id":"x","inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`)
	if code != 200 {
		t.Fatalf("infer = %d %s", code, body)
	}
	var r struct {
		ModelName    string `json:"model_name"`
		ModelVersion string `json:"model_version"`
		ID           string `json:"id"`
		Outputs      []struct {
			Name     string    `json:"name"`
			Datatype string    `json:"datatype"`
			Shape    []int64   `json:"shape"`
			Data     []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if r.ModelName != "dummy" || r.ModelVersion != "1" || r.ID != "x" || r.Outputs[0].Name != "a" || !equal(r.Outputs[0].Data, seq(10, 2)) {
		t.Fatalf("infer response %s", body)
	}
	if !strings.Contains(body, `"data": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]`) {
		t.Errorf("infer response not formatted as OVMS does:\n%s", body)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
