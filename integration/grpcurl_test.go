package integration

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

var (
	grpcurlOnce sync.Once
	grpcurlPath string
	grpcurlErr  error
)

// grpcurl builds grpcurl (a tool dependency in go.mod) once.
func grpcurl(t *testing.T) string {
	t.Helper()
	grpcurlOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			grpcurlErr = err
			return
		}
		grpcurlPath = filepath.Join(binDir, "grpcurl")
		cmd := exec.Command("go", "build", "-o", grpcurlPath, "github.com/fullstorydev/grpcurl/cmd/grpcurl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			grpcurlErr = fmt.Errorf("building grpcurl: %v\n%s", err, out)
		}
	})
	if grpcurlErr != nil {
		t.Fatal(grpcurlErr)
	}
	return grpcurlPath
}

// grpcurl runs grpcurl -plaintext with args, "@" standing for the
// server's address, and returns its output.
func (s *server) grpcurl(args ...string) string {
	s.t.Helper()
	all := []string{"-plaintext"}
	for _, a := range args {
		if a == "@" {
			a = fmt.Sprintf("127.0.0.1:%d", s.grpcPort)
		}
		all = append(all, a)
	}
	out, err := exec.Command(grpcurl(s.t), all...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("grpcurl %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	return string(out)
}

func TestGrpcurlReflectionPredictAndInfer(t *testing.T) {
	s := startServer(t, "dummy")
	list := s.grpcurl("@", "list")
	for _, svc := range []string{"inference.GRPCInferenceService", "tensorflow.serving.PredictionService",
		"tensorflow.serving.ModelService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(list, svc+"\n") {
			t.Errorf("grpcurl list lacks %s:\n%s", svc, list)
		}
	}
	if desc := s.grpcurl("@", "describe", "inference.GRPCInferenceService"); !strings.Contains(desc, "rpc ModelInfer") {
		t.Errorf("describe: %s", desc)
	}

	// KServe ModelInfer: contents in, raw contents out.
	var resp struct {
		ModelName         string   `json:"modelName"`
		RawOutputContents []string `json:"rawOutputContents"`
		Outputs           []struct {
			Name, Datatype string
			Shape          []string
		}
	}
	out := s.grpcurl("-d", `{"model_name":"dummy","inputs":[{"name":"b","datatype":"FP32","shape":[1,10],"contents":{"fp32_contents":[0,1,2,3,4,5,6,7,8,9]}}]}`,
		"@", "inference.GRPCInferenceService/ModelInfer")
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if resp.ModelName != "dummy" || len(resp.Outputs) != 1 || resp.Outputs[0].Name != "a" || len(resp.RawOutputContents) != 1 {
		t.Fatalf("ModelInfer answer: %s", out)
	}
	checkPlusOne(t, resp.RawOutputContents[0])

	// TFS Predict: float_val in, tensor_content out.
	var pr struct {
		Outputs map[string]struct {
			Dtype         string `json:"dtype"`
			TensorContent string `json:"tensorContent"`
		} `json:"outputs"`
	}
	out = s.grpcurl("-d", `{"model_spec":{"name":"dummy"},"inputs":{"b":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":1},{"size":10}]},"float_val":[0,1,2,3,4,5,6,7,8,9]}}}`,
		"@", "tensorflow.serving.PredictionService/Predict")
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if a, ok := pr.Outputs["a"]; !ok || a.Dtype != "DT_FLOAT" {
		t.Fatalf("Predict answer: %s", out)
	}
	checkPlusOne(t, pr.Outputs["a"].TensorContent)

	// The standard health service, as a Kubernetes gRPC probe asks it.
	for _, svc := range []string{"", "inference.GRPCInferenceService", "tensorflow.serving.PredictionService"} {
		if out := s.grpcurl("-d", fmt.Sprintf(`{"service":%q}`, svc), "@", "grpc.health.v1.Health/Check"); !strings.Contains(out, `"SERVING"`) {
			t.Errorf("health of %q: %s", svc, out)
		}
	}
	_, err := healthpb.NewHealthClient(s.conn).Check(ctx(t), &healthpb.HealthCheckRequest{Service: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v, want NotFound", err)
	}
}

// checkPlusOne decodes base64 little-endian FP32 and checks it is 1..10.
func checkPlusOne(t *testing.T, b64 string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 40 {
		t.Fatalf("output %q: %v", b64, err)
	}
	for i := 0; i < 10; i++ {
		if v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); v != float32(i+1) {
			t.Fatalf("output[%d] = %v, want %d", i, v, i+1)
		}
	}
}

func TestGRPCChannelArgumentsLimitMessages(t *testing.T) {
	s := startServer(t, "dummy", "--grpc_channel_arguments", "grpc.max_receive_message_length=200,grpc.max_concurrent_streams=4")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	small := &kpb.ModelInferRequest{ModelName: "dummy", Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}}
	if _, err := c.ModelInfer(ctx(t), small); err != nil {
		t.Fatalf("a request under the limit: %v", err)
	}
	big := &kpb.ModelInferRequest{ModelName: "dummy", Id: strings.Repeat("x", 300), Inputs: small.Inputs, RawInputContents: small.RawInputContents}
	_, err := c.ModelInfer(ctx(t), big)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "larger than max") {
		t.Fatalf("a request over grpc.max_receive_message_length: %v, want ResourceExhausted", err)
	}
	s.alive()
}
