package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/ovmsgo/ovms/core/modelmanager"
)

func newTestServer(t *testing.T) (*Server, *modelmanager.Manager, *test.Hook) {
	t.Helper()
	return newTestServerWith(t, nil)
}

func newTestServerWith(t *testing.T, devices modelmanager.Devices) (*Server, *modelmanager.Manager, *test.Hook) {
	t.Helper()
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	log := logrus.NewEntry(logger)
	models := modelmanager.New(devices, log)
	return New(models, "2026.2.0-test", log), models, hook
}

func do(s http.Handler, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestServerAnswersLikeOVMSWithoutModels(t *testing.T) {
	s, _, _ := newTestServer(t)
	s.HandleMetrics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "# metrics\n") }))
	const (
		nameMissing    = `{"error":"Model with requested name is not found"}`
		versionMissing = `{"error":"Model with requested version is not found"}`
		badMethod      = `{"error":"Unsupported method"}`
		badURL         = `{"error":"Invalid request URL"}`
	)
	tests := []struct {
		method, target, body string
		header               map[string]string
		status               int
		want                 string
	}{
		{"GET", "/v1/models/dummy", "", nil, 404, nameMissing},
		{"GET", "/v1/models/dummy/versions/1", "", nil, 404, nameMissing},
		{"GET", "/v1/models/dummy/labels/stable", "", nil, 404, nameMissing},
		{"GET", "/v1/models/dummy/metadata", "", nil, 404, nameMissing},
		{"GET", "/v1/models/dummy/versions/99999999999999999999", "", nil, 404, versionMissing},
		{"GET", "/v1/models", "", nil, 404, nameMissing},
		{"GET", "/v1/models/dummy?x=1", "", nil, 404, nameMissing},
		{"POST", "/v1/models/dummy:predict", "not json", nil, 404, nameMissing},
		{"POST", "/v1/models/dummy/versions/2:predict", `{"instances": [[1]]}`, nil, 404, nameMissing},
		{"POST", "/v1/models/dummy:classify", "", nil, 404, `{"error":"Requested REST resource not found"}`},
		{"POST", "/v1/models/dummy:regress", "", nil, 404, `{"error":"Requested REST resource not found"}`},
		{"GET", "/v1/models/dummy:predict", "", nil, 406, badMethod},
		{"POST", "/v1/models/dummy", "", nil, 406, badMethod},
		{"POST", "/v1/models/dummy/metadata", "", nil, 406, badMethod},
		{"PUT", "/v1/models/dummy", "", nil, 406, badMethod},
		{"DELETE", "/nowhere", "", nil, 406, badMethod},
		{"GET", "/v1/models/../x", "", nil, 400, `{"error":"The provided base path is invalid or doesn't exists"}`},
		{"PUT", "/v1/models/dummy/..", "", nil, 400, `{"error":"The provided base path is invalid or doesn't exists"}`},
		{"GET", "/v1/models/a..b", "", nil, 404, nameMissing},
		{"GET", "/nowhere", "", nil, 400, badURL},
		{"POST", "/nowhere", "", nil, 400, badURL},
		{"GET", "/v3/models", "", nil, 400, badURL},
		{"GET", "/v2/health/live", "", nil, 200, ""},
		{"POST", "/v2/health/live", "", nil, 406, badMethod},
		{"GET", "/v2/health/ready", "", nil, 500, `{"error":"Error while loading a model"}`},
		{"GET", "/v2", "", nil, 200, `{"name":"OpenVINO Model Server","version":"2026.2.0-test"}`},
		{"POST", "/v2", "", nil, 406, badMethod},
		{"GET", "/v2/models/dummy/ready", "", nil, 404, nameMissing},
		{"GET", "/v2/models/dummy/versions/1/ready", "", nil, 404, nameMissing},
		{"GET", "/v2/models/dummy", "", nil, 404, nameMissing},
		{"GET", "/v2/models/dummy/", "", nil, 404, nameMissing},
		{"GET", "/v2/models/dummy/versions/1/", "", nil, 404, nameMissing},
		{"GET", "/v2/models/dummy/versions/x", "", nil, 400, badURL},
		{"GET", "/v2/models/dummy/infer", "", nil, 406, badMethod},
		{"POST", "/v2/models/dummy/ready", "", nil, 406, badMethod},
		{"POST", "/v2/models/dummy/infer", dummyInfer, nil, 404, nameMissing},
		{"POST", "/v2/models/dummy/infer", `{"inputs": 1}`, nil, 400, `{"error":"Could not parse input content. Not valid ndarray detected"}`},
		{"POST", "/v2/models/dummy/infer", `{`, nil, 412, `{"error":"The file is not valid json - Error: Missing a name for object member. Offset: 1"}`},
		{"POST", "/v2/models/dummy/infer", dummyInfer, map[string]string{"Inference-Header-Content-Length": "abc"}, 400,
			`{"error":"Inference-Header-Content-Length header is invalid and couldn't be parsed"}`},
		{"POST", "/v2/models/dummy/infer", dummyInfer, map[string]string{"Inference-Header-Content-Length": " 0x"}, 412,
			`{"error":"The file is not valid json - Error: The document is empty. Offset: 0"}`},
		{"GET", "/metrics", "", nil, 200, "# metrics\n"},
		{"POST", "/metrics", "", nil, 406, badMethod},
		{"POST", "/v1/config/reload", "", nil, 400, badURL},
		{"GET", "/v1/config/reload", "", nil, 406, badMethod},
		{"GET", "/v1/config", "", nil, 400, badURL},
		{"POST", "/v1/config", "", nil, 406, badMethod},
	}
	for _, tt := range tests {
		w := do(s, tt.method, tt.target, tt.body, tt.header)
		if w.Code != tt.status || w.Body.String() != tt.want {
			t.Errorf("%s %s: got %d %s, want %d %s", tt.method, tt.target, w.Code, w.Body.String(), tt.status, tt.want)
		}
		if tt.target != "/metrics" && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: content type %q", tt.method, tt.target, w.Header().Get("Content-Type"))
		}
	}
}

func TestServerReadyAfterConfigIsApplied(t *testing.T) {
	s, models, _ := newTestServer(t)
	if err := models.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if w := do(s, "GET", "/v2/health/ready", "", nil); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
}

func TestServerRecoversFromPanics(t *testing.T) {
	s, _, hook := newTestServer(t)
	s.HandleMetrics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := do(s, "GET", "/metrics", "", nil)
	if w.Code != 500 || w.Body.String() != `{"error":"Internal server error"}` {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
	e := hook.LastEntry()
	if e == nil || e.Level != logrus.ErrorLevel || e.Data["panic"] != "boom" || e.Data["path"] != "/metrics" {
		t.Fatalf("log entry %+v", e)
	}
}

func TestServerRefusesHugeBodies(t *testing.T) {
	s, _, _ := newTestServer(t)
	r := httptest.NewRequest("POST", "/v2/models/dummy/infer", strings.NewReader("{}"))
	r.ContentLength = MaxBodyBytes + 1
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		method, path string
		kind         routeKind
		model        string
		version      int64
	}{
		{"POST", "/v1/models/my%20model/versions/3:predict", routePredict, "my model", 3},
		{"POST", "/v1/models/a%2Fb/labels/x:predict", routePredict, "a/b", 0},
		{"POST", "x/v1/models/m:predict", routePredict, "m", 0},
		{"GET", "/v1/models/m/versions/0", routeModelStatus, "m", 0},
		{"GET", "/v1/models/m/versions/7/metadata", routeModelMetadata, "m", 7},
		{"GET", "/v1/models/metadata", routeModelStatus, "metadata", 0},
		{"GET", "/v2/models/m%41/versions/2", routeKFSMetadata, "mA", 2},
		{"GET", "/v2/models/m/ready", routeKFSReady, "m", 0},
		{"POST", "/v2/models/m/versions/5/infer", routeKFSInfer, "m", 5},
		{"GET", "/metrics?name[]=x", routeMetrics, "", 0},
	}
	for _, tt := range tests {
		rt, err := resolve(tt.method, tt.path, http.Header{}, false)
		if err != nil || rt.kind != tt.kind || rt.model != tt.model || rt.version != tt.version {
			t.Errorf("%s %s: %+v %v", tt.method, tt.path, rt, err)
		}
	}
}

func TestURLHelpers(t *testing.T) {
	for in, want := range map[string]string{"a%20b": "a b", "a+b": "a+b", "%zz": "%zz", "ab%4": "ab%4", "%41%": "A%", "%e2%82%ac": "€"} {
		if got := urlDecode(in); got != want {
			t.Errorf("urlDecode(%q) = %q, want %q", in, got, want)
		}
	}
	for p, want := range map[string]bool{"../x": true, "/a/..": true, "/a/../b": true, "/a..b": false, "/..a/b": false, "/a/..b/..": false, "/v1/models/x": false} {
		if got := pathEscaped(p); got != want {
			t.Errorf("pathEscaped(%q) = %v", p, got)
		}
	}
	for v, want := range map[string]int{"12": 12, " +12abc": 12, "-0": 0, "2147483647": 2147483647, "2147483648": -2, "-1": -2, "x": -2, "": -2} {
		got, err := parseHeaderLength(http.Header{"Inference-Header-Content-Length": {v}})
		if err != nil {
			got = -2
		}
		if got != want {
			t.Errorf("parseHeaderLength(%q) = %d, want %d", v, got, want)
		}
	}
}
