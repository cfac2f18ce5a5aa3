package rest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// startDummy serves the OVMS "dummy" model (b [1,10] FP32 -> a = b + 1)
// from a mock device plugin over an in-memory gRPC connection and a real
// shared-memory arena.
func startDummy(t *testing.T) (*Server, *shm.Arena) {
	t.Helper()
	arena := devicetest.NewArena(t)
	inst := devicetest.Serve(t, devicetest.AddOne(arena, nil), arena)
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, models, _ := newTestServerWith(t, devicetest.Devices{Instance: inst})
	cfg := config.DefaultModel()
	cfg.Name, cfg.BasePath = "dummy", base
	if err := models.Apply(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	return s, arena
}

func TestEndToEndDummy(t *testing.T) {
	s, arena := startDummy(t)
	ten := "[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]"
	col := "{\n    \"outputs\": [\n        [\n"
	for i := 2; i <= 11; i++ {
		col += "            " + strconv.Itoa(i) + ".0"
		if i < 11 {
			col += ","
		}
		col += "\n"
	}
	col += "        ]\n    ]\n}"
	status := "{\n \"model_version_status\": [\n  {\n   \"version\": \"1\",\n   \"state\": \"AVAILABLE\",\n   \"status\": {\n    \"error_code\": \"OK\",\n    \"error_message\": \"OK\"\n   }\n  }\n ]\n}\n"
	tests := []struct {
		method, target, body string
		status               int
		want                 string
	}{
		{"POST", "/v1/models/dummy:predict", `{"instances": [` + ten + `]}`, 200,
			"{\n    \"predictions\": [[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n    ]\n}"},
		{"POST", "/v1/models/dummy/versions/1:predict", `{"inputs": {"b": [[1,2,3,4,5,6,7,8,9,10]]}}`, 200, col},
		{"POST", "/v1/models/dummy/labels/any:predict", `{"instances": [{"b": [1,2,3,4,5,6,7,8,9,10]}]}`, 200,
			"{\n    \"predictions\": [[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n    ]\n}"},
		{"POST", "/v1/models/dummy/versions/2:predict", `not json`, 404, `{"error":"Model with requested version is not found"}`},
		{"POST", "/v1/models/dummy:predict", `{"instances": [[1, 2]]}`, 400, `{"error":"Invalid input shape - Expected: (1,10); Actual: (1,2); input name: b"}`},
		{"POST", "/v1/models/dummy:predict", `{"instances": [{"b": [1,2,3,4,5,6,7,8,9,10], "c": [1]}]}`, 400, `{"error":"Invalid number of inputs - Expected: 1; Actual: 2"}`},
		{"POST", "/v2/models/dummy/infer", `{"id": "7", "inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32", "data": ` + ten + `}]}`, 200,
			"{\n    \"model_name\": \"dummy\",\n    \"id\": \"7\",\n    \"model_version\": \"1\",\n    \"outputs\": [{\n            \"name\": \"a\",\n            \"shape\": [1, 10],\n" +
				"            \"datatype\": \"FP32\",\n            \"data\": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n        }]\n}"},
		{"POST", "/v2/models/dummy/infer", `{"inputs": [{"name": "b", "shape": [1, 9], "datatype": "FP32", "data": [1]}]}`, 400,
			`{"error":"Invalid input shape - Expected: (1,10); Actual: (1,9); input name: b"}`},
		{"POST", "/v2/models/dummy/infer", `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "y", "shape": [1], "datatype": "FP32", "data": [1]}]}`, 400,
			`{"error":"Invalid number of inputs - Expected: 1; Actual: 2"}`},
		{"GET", "/v1/models/dummy", "", 200, status},
		{"GET", "/v1/models/dummy/versions/1", "", 200, status},
		{"GET", "/v1/models/dummy/versions/3", "", 404, `{"error":"Model with requested version is not found"}`},
		{"GET", "/v2/models/dummy", "", 200, `{"name":"dummy","versions":["1"],"platform":"OpenVINO","inputs":[{"name":"b","datatype":"FP32","shape":[1,10]}],"outputs":[{"name":"a","datatype":"FP32","shape":[1,10]}]}`},
		{"GET", "/v2/models/dummy/versions/1/ready", "", 200, ""},
		{"GET", "/v2/models/dummy/versions/2/ready", "", 404, `{"error":"Model with requested version is not found"}`},
	}
	for _, tt := range tests {
		w := do(s, tt.method, tt.target, tt.body, nil)
		if w.Code != tt.status || w.Body.String() != tt.want {
			t.Errorf("%s %s: got %d\n%s\nwant %d\n%s", tt.method, tt.target, w.Code, w.Body.String(), tt.status, tt.want)
		}
	}
	if n := arena.PluginZone().Allocations(); n != 0 {
		t.Errorf("%d output buffers were not released", n)
	}
	if n := arena.HostZone().Allocations(); n != 0 {
		t.Errorf("%d input buffers were not freed", n)
	}
}

func TestEndToEndBinaryInfer(t *testing.T) {
	s, _ := startDummy(t)
	js := `{"inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32", "parameters": {"binary_data_size": 40}}], "outputs": [{"name": "a", "parameters": {"binary_data": true}}]}`
	body := js + string(f32Bytes(seq(10, 1)...))
	w := do(s, "POST", "/v2/models/dummy/infer", body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(js))})
	header := "{\n    \"model_name\": \"dummy\",\n    \"model_version\": \"1\",\n    \"outputs\": [{\n            \"name\": \"a\",\n            \"shape\": [1, 10],\n" +
		"            \"datatype\": \"FP32\",\n            \"parameters\": {\n                \"binary_data_size\": 40\n            }\n        }]\n}"
	if w.Code != 200 || w.Body.String() != header+string(f32Bytes(seq(10, 2)...)) {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Inference-Header-Content-Length"); got != strconv.Itoa(len(header)) {
		t.Fatalf("Inference-Header-Content-Length %q, want %d", got, len(header))
	}
}
