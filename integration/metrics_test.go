package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// scrapeMetrics GETs /metrics and parses it with Prometheus's text parser.
func scrapeMetrics(t *testing.T, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, s.url("/metrics"))
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

// series finds the series of family with exactly labels want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, family string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[family]
	if f == nil {
		t.Fatalf("no family %s", family)
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s: no series %v", family, want)
	return nil
}

func TestMetricsOverAllAPIs(t *testing.T) {
	s := startServer(t, "dummy", "--metrics_enable")
	in := seq(10, 1)
	// KServe gRPC: 2 good, 1 bad (wrong shape).
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	for i, shape := range [][]int64{{1, 10}, {1, 10}, {1, 3}} {
		_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: shape}},
			RawInputContents: [][]byte{f32bytes(in[:shape[1]]...)}})
		if (err == nil) != (i < 2) {
			t.Fatalf("KServe gRPC %d: %v", i, err)
		}
	}
	if _, err := kc.ModelReady(ctx(t), &kpb.ModelReadyRequest{Name: "dummy"}); err != nil {
		t.Fatal(err)
	}
	// TFS gRPC: 1 good.
	pc := tfspb.NewPredictionServiceClient(s.conn)
	if _, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
		Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: in}}}); err != nil {
		t.Fatal(err)
	}
	// KServe REST: 3 good; TFS REST: 1 good, 1 bad.
	for range 3 {
		if code, body := post(t, s.url("/v2/models/dummy/infer"), `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`); code != 200 {
			t.Fatalf("KServe REST: %d %s", code, body)
		}
	}
	if code, body := post(t, s.url("/v1/models/dummy:predict"), `{"instances": [[1,2,3,4,5,6,7,8,9,10]]}`); code != 200 {
		t.Fatalf("TFS REST: %d %s", code, body)
	}
	if code, _ := post(t, s.url("/v1/models/dummy:predict"), `{"instances": [[1,2,3]]}`); code == 200 {
		t.Fatal("a bad TFS REST request succeeded")
	}
	if code, _ := get(t, s.url("/v1/models/dummy/versions/1/metadata")); code != 200 {
		t.Fatal("metadata")
	}

	fams := scrapeMetrics(t, s)
	count := func(fam, api, iface, method string, versioned bool) float64 {
		want := map[string]string{"api": api, "interface": iface, "method": method, "name": "dummy"}
		if versioned {
			want["version"] = "1"
		}
		return series(t, fams, fam, want).GetCounter().GetValue()
	}
	for _, c := range []struct {
		fam, api, iface, method string
		versioned               bool
		want                    float64
	}{
		{"ovms_requests_success", "KServe", "gRPC", "ModelInfer", true, 2},
		{"ovms_requests_fail", "KServe", "gRPC", "ModelInfer", true, 1},
		{"ovms_requests_success", "KServe", "gRPC", "ModelReady", false, 1},
		{"ovms_requests_success", "TensorFlowServing", "gRPC", "Predict", true, 1},
		{"ovms_requests_success", "KServe", "REST", "ModelInfer", true, 3},
		{"ovms_requests_success", "TensorFlowServing", "REST", "Predict", true, 1},
		{"ovms_requests_fail", "TensorFlowServing", "REST", "Predict", true, 1},
		{"ovms_requests_success", "TensorFlowServing", "REST", "GetModelMetadata", true, 1},
		{"ovms_requests_success", "TensorFlowServing", "gRPC", "GetModelStatus", false, 0},
	} {
		if got := count(c.fam, c.api, c.iface, c.method, c.versioned); got != c.want {
			t.Errorf("%s{%s,%s,%s} = %v, want %v", c.fam, c.api, c.iface, c.method, got, c.want)
		}
	}
	for iface, want := range map[string]uint64{"gRPC": 4, "REST": 5} {
		h := series(t, fams, "ovms_request_time_us", map[string]string{"interface": iface, "name": "dummy", "version": "1"}).GetHistogram()
		if h.GetSampleCount() != want {
			t.Errorf("request time %s: %d samples, want %d", iface, h.GetSampleCount(), want)
		}
		b := h.GetBucket()
		if len(b) != 34 || b[0].GetUpperBound() != 10 || b[3].GetUpperBound() != 58 || !math.IsInf(b[33].GetUpperBound(), 1) {
			t.Errorf("request time buckets: %v", b)
		}
	}
	nv := map[string]string{"name": "dummy", "version": "1"}
	// 7 requests reached the engine (the bad ones fail validation first).
	if n := series(t, fams, "ovms_inference_time_us", nv).GetHistogram().GetSampleCount(); n != 7 {
		t.Errorf("inference time samples = %d, want 7", n)
	}
	if n := series(t, fams, "ovms_wait_for_infer_req_time_us", nv).GetHistogram().GetSampleCount(); n != 7 {
		t.Errorf("wait samples = %d, want 7", n)
	}
	if g := series(t, fams, "ovms_streams", nv).GetGauge().GetValue(); g != 1 {
		t.Errorf("streams = %v", g)
	}
	if g := series(t, fams, "ovms_current_requests", nv).GetGauge().GetValue(); g != 0 {
		t.Errorf("current requests = %v", g)
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ovms_") {
			t.Errorf("foreign family %s", name)
		}
		if f.GetType() == dto.MetricType_SUMMARY {
			t.Errorf("%s is a summary", name)
		}
	}
	if fams["ovms_arena_bytes_in_use"] == nil || fams["ovms_infer_req_active"] != nil {
		t.Errorf("arena gauge served: %v; optional active served: %v", fams["ovms_arena_bytes_in_use"] != nil, fams["ovms_infer_req_active"] != nil)
	}
}

// TestInferenceTimeIsTheEngineRun: ovms_inference_time_us is the engine's
// own run (OVMS: the backend's inference), not the plugin call around it.
// A slow request (32 MiB from client shared memory through a 256x256
// MatMul, so that it reaches the plugin at once) runs on a one-stream model
// while seven small ones are sent; they wait in the plugin for its run to
// end. The runs take turns on the one stream, so they add up to less than
// the time from the slow request's start to the last answer; the plugin
// calls, seven of them waiting out most of the slow run, add up to several
// times that.
func TestInferenceTimeIsTheEngineRun(t *testing.T) {
	s := startServer(t, "slow_stateful", "--allow_client_shm", "--metrics_enable")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	const rows = 32768
	key, _ := clientRegion(t, 4*rows*256)
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "x", Key: key, ByteSize: 4 * rows * 256}); err != nil {
		t.Fatal(err)
	}
	infer := func(x *kpb.ModelInferRequest_InferInputTensor, raw [][]byte) error {
		h := &kpb.ModelInferRequest_InferInputTensor{Name: "h_in", Datatype: "FP32", Shape: []int64{1, 4}}
		_, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "slow_stateful",
			Inputs: []*kpb.ModelInferRequest_InferInputTensor{h, x}, RawInputContents: append([][]byte{make([]byte, 16)}, raw...)})
		return err
	}
	nv := map[string]string{"name": "slow_stateful", "version": "1"}
	const small = 7
	errs := make(chan error, small+1)
	sent := time.Now()
	go func() {
		errs <- infer(&kpb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: []int64{1, rows * 256},
			Parameters: shmParams("x", 0, 4*rows*256)}, nil)
	}()
	// The slow request is in its handler, and within microseconds at the
	// plugin, once it counts as a current request: every run comes after
	// the start of the last scrape that did not count it (or the send).
	start := sent
	for {
		at := time.Now()
		if series(t, scrapeMetrics(t, s), "ovms_current_requests", nv).GetGauge().GetValue() > 0 {
			break
		}
		start = at
		if time.Since(sent) > 30*time.Second {
			t.Fatal("the slow request never started")
		}
		time.Sleep(200 * time.Microsecond)
	}
	for range small {
		go func() {
			errs <- infer(&kpb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: []int64{1, 256}}, [][]byte{make([]byte, 4*256)})
		}()
	}
	for range small + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	fams := scrapeMetrics(t, s)
	inf := series(t, fams, "ovms_inference_time_us", nv).GetHistogram()
	req := series(t, fams, "ovms_request_time_us", map[string]string{"interface": "gRPC", "name": "slow_stateful", "version": "1"}).GetHistogram()
	if inf.GetSampleCount() != small+1 || req.GetSampleCount() != small+1 {
		t.Fatalf("samples: inference %d, request %d, want %d", inf.GetSampleCount(), req.GetSampleCount(), small+1)
	}
	if inf.GetSampleSum() > float64(took.Microseconds()) {
		t.Errorf("inference time: %v us in all for %d runs taking turns on one stream within %v: more than the engine's runs", inf.GetSampleSum(), small+1, took)
	}
	if inf.GetSampleSum() <= 0 || inf.GetSampleSum() >= req.GetSampleSum() {
		t.Errorf("inference time %v us, request time %v us", inf.GetSampleSum(), req.GetSampleSum())
	}
	t.Logf("%d requests in %v: inference time %.0f us in all, request time %.0f us", small+1, took, inf.GetSampleSum(), req.GetSampleSum())
}

func TestMetricsConfigFileAndErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	write := func(monitoring string) {
		body := fmt.Sprintf(`{"model_config_list":[{"config":{"name":"dummy","base_path":%q}}]%s}`, filepath.Join(modelsDir, "dummy"), monitoring)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`,"monitoring":{"metrics":{"enable":true,"metrics_list":["ovms_requests_success","ovms_infer_req_queue_size"]}}`)
	s := startArgs(t, "--config_path", cfg)
	if code, body := post(t, s.url("/v2/models/dummy/infer"), `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`); code != 200 {
		t.Fatalf("infer: %d %s", code, body)
	}
	fams := scrapeMetrics(t, s)
	if len(fams) != 2 || fams["ovms_requests_success"] == nil || fams["ovms_infer_req_queue_size"] == nil {
		t.Errorf("families: %v", fams)
	}
	s.stop()

	// Disabled: 400 as OVMS.
	s = startServer(t, "dummy")
	if code, body := get(t, s.url("/metrics")); code != 400 || !strings.Contains(body, "Invalid request URL") {
		t.Errorf("/metrics off: %d %s", code, body)
	}
	s.stop()

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--port", "9", "--metrics_enable"}, 64, "rest_port setting is missing, metrics are enabled on rest port"},
		{[]string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--rest_port", "9", "--metrics_list", "ovms_streams"}, 64, "metrics_enable setting is missing, required when metrics_list is provided"},
		{[]string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--port", "0", "--rest_port", "1", "--metrics_enable", "--metrics_list", "ovms_bogus"}, 1, "Invalid name in metrics_list"},
	} {
		code, stdout, stderr := runOVMS(t, c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.msg) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", c.args, code, c.code, c.msg, stdout, stderr)
		}
	}
	write(`,"monitoring":{"metrics":{"enable":true}}`)
	if code, stdout, stderr := runOVMS(t, "--config_path", cfg, "--port", "0", "--rest_port", "1", "--metrics_enable"); code != 1 || !strings.Contains(stdout+stderr, "CONFIG_FILE_INVALID") {
		t.Errorf("both: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runOVMS(t, "--config_path", cfg, "--port", "1"); code != 1 || !strings.Contains(stdout+stderr, "rest_port is not defined") {
		t.Errorf("file without rest_port: exit %d\n%s%s", code, stdout, stderr)
	}
}
