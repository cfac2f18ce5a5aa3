package metrics

import (
	"errors"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.Body)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func find(t *testing.T, f *dto.MetricFamily, want map[string]string) *dto.Metric {
	t.Helper()
	if f == nil {
		t.Fatalf("family missing (want %v)", want)
	}
next:
	for _, m := range f.GetMetric() {
		got := labels(m)
		if len(got) != len(want) {
			continue
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s: no series %v", f.GetName(), want)
	return nil
}

func TestDefaultFamiliesNamesLabelsBuckets(t *testing.T) {
	r, err := New(Config{Enable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v := r.Version("m", 2)
	v.Loaded(3, 0)
	start := Now()
	v.Begin()
	v.End(KServeGRPCModelInfer, start, true)
	v.Begin()
	v.End(TFSRESTPredict, Now(), false)
	v.Count(KServeRESTModelReady, true)
	v.Inferred(time.Now().Add(-50*time.Microsecond), -1)
	fams := scrape(t, r)

	for _, name := range OptionalFamilies {
		if fams[name] != nil {
			t.Errorf("optional family %s served by default", name)
		}
	}
	types := map[string]dto.MetricType{
		RequestsSuccess: dto.MetricType_COUNTER, RequestsFail: dto.MetricType_COUNTER,
		RequestTime: dto.MetricType_HISTOGRAM, InferenceTime: dto.MetricType_HISTOGRAM, WaitForInferReqTime: dto.MetricType_HISTOGRAM,
		Streams: dto.MetricType_GAUGE, CurrentRequests: dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		if f := fams[name]; name != WaitForInferReqTime && (f == nil || f.GetType() != typ) {
			t.Errorf("%s: family %v, want type %v", name, f, typ)
		}
	}
	ok := find(t, fams[RequestsSuccess], map[string]string{"api": "KServe", "interface": "gRPC", "method": "ModelInfer", "name": "m", "version": "2"})
	if ok.GetCounter().GetValue() != 1 {
		t.Errorf("success = %v", ok.GetCounter().GetValue())
	}
	// Series exist at zero from the load on.
	if z := find(t, fams[RequestsSuccess], map[string]string{"api": "TensorFlowServing", "interface": "gRPC", "method": "GetModelMetadata", "name": "m", "version": "2"}); z.GetCounter().GetValue() != 0 {
		t.Errorf("unused series = %v", z.GetCounter().GetValue())
	}
	// Ready and status carry no version.
	if rd := find(t, fams[RequestsSuccess], map[string]string{"api": "KServe", "interface": "REST", "method": "ModelReady", "name": "m"}); rd.GetCounter().GetValue() != 1 {
		t.Errorf("ready = %v", rd.GetCounter().GetValue())
	}
	if f := find(t, fams[RequestsFail], map[string]string{"api": "TensorFlowServing", "interface": "REST", "method": "Predict", "name": "m", "version": "2"}); f.GetCounter().GetValue() != 1 {
		t.Errorf("fail = %v", f.GetCounter().GetValue())
	}
	h := find(t, fams[RequestTime], map[string]string{"interface": "gRPC", "name": "m", "version": "2"}).GetHistogram()
	if h.GetSampleCount() != 1 {
		t.Errorf("request time count = %d", h.GetSampleCount())
	}
	bs := h.GetBucket()
	// 33 OVMS bounds, then +Inf.
	if len(bs) != 34 || bs[0].GetUpperBound() != 10 || bs[1].GetUpperBound() != 18 || bs[2].GetUpperBound() != 32 || bs[32].GetUpperBound() != Buckets[32] || !math.IsInf(bs[33].GetUpperBound(), 1) {
		t.Errorf("buckets: %d, first %v, last %v", len(bs), bs[0].GetUpperBound(), bs[len(bs)-1].GetUpperBound())
	}
	if st := find(t, fams[Streams], map[string]string{"name": "m", "version": "2"}); st.GetGauge().GetValue() != 3 {
		t.Errorf("streams = %v", st.GetGauge().GetValue())
	}
	if cur := find(t, fams[CurrentRequests], map[string]string{"name": "m", "version": "2"}); cur.GetGauge().GetValue() != 0 {
		t.Errorf("current = %v", cur.GetGauge().GetValue())
	}
	if it := find(t, fams[InferenceTime], map[string]string{"name": "m", "version": "2"}); it.GetHistogram().GetSampleCount() != 1 || it.GetHistogram().GetSampleSum() < 50 {
		t.Errorf("inference time: %v", it.GetHistogram())
	}
}

// The engine's run as the plugin reports it is what ovms_inference_time_us
// records, not the plugin call around it (the crossing to the plugin and
// back); a call without a reported run records the whole call.
func TestInferenceTimeIsTheEngineRun(t *testing.T) {
	r, err := New(Config{Enable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v := r.Version("m", 1)
	v.Inferred(time.Now().Add(-10*time.Millisecond), 3*time.Millisecond)
	v.Inferred(time.Now().Add(-10*time.Millisecond), 0)
	h := find(t, scrape(t, r)[InferenceTime], map[string]string{"name": "m", "version": "1"}).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 3000 {
		t.Errorf("engine runs of 3 ms and 0: count %d, sum %v us, want 2 and 3000", h.GetSampleCount(), h.GetSampleSum())
	}
	v.Inferred(time.Now().Add(-10*time.Millisecond), -1)
	h = find(t, scrape(t, r)[InferenceTime], map[string]string{"name": "m", "version": "1"}).GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() < 3000+10000 {
		t.Errorf("a call of 10 ms without a reported run: count %d, sum %v us, want 3 and at least 13000", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestBucketsAreOVMS(t *testing.T) {
	want := []float64{10, 18, 32, 58, 104, 188, 340, 612, 1101, 1983}
	for i, w := range want {
		if Buckets[i] != w {
			t.Fatalf("bucket %d = %v, want %v", i, Buckets[i], w)
		}
	}
	if len(Buckets) != 33 {
		t.Fatalf("%d buckets", len(Buckets))
	}
}

func TestMetricsList(t *testing.T) {
	r, err := New(Config{Enable: true, List: ParseList("ovms_requests_success, ovms_infer_req_queue_size,ovms_infer_req_active")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v := r.Version("m", 1)
	v.Loaded(1, 4)
	v.Waited(time.Now())
	fams := scrape(t, r)
	if len(fams) != 3 {
		names := []string{}
		for n := range fams {
			names = append(names, n)
		}
		t.Fatalf("families %v, want the 3 listed", names)
	}
	if q := find(t, fams[InferReqQueueSize], map[string]string{"name": "m", "version": "1"}); q.GetGauge().GetValue() != 4 {
		t.Errorf("queue size = %v", q.GetGauge().GetValue())
	}
	if a := find(t, fams[InferReqActive], map[string]string{"name": "m", "version": "1"}); a.GetGauge().GetValue() != 1 {
		t.Errorf("active = %v", a.GetGauge().GetValue())
	}
}

func TestInvalidNameAndOff(t *testing.T) {
	_, err := New(Config{Enable: true, List: []string{"ovms_requests_success", "bogus"}})
	if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), "Invalid name in metrics_list") {
		t.Fatalf("err = %v", err)
	}
	r, err := New(Config{List: []string{"bogus"}})
	if r != nil || err != nil {
		t.Fatalf("off: %v %v", r, err)
	}
	var v *Version = r.Version("m", 1)
	v.Begin() // nil-safe
	v.End(TFSGRPCPredict, Now(), true)
	r.PluginRestarted("cpu")
	r.ConfigReloaded(true)
}

func TestAdditions(t *testing.T) {
	r, err := New(Config{Enable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.ObserveArenas(func() []ArenaUsage { return []ArenaUsage{{Plugin: "cpu", Host: 4096, Peer: 8192}} }); err != nil {
		t.Fatal(err)
	}
	r.PluginRestarted("cpu")
	r.ConfigReloaded(true)
	r.ConfigReloaded(false)
	v := r.Version("b", 1)
	v.Batched(3)
	now := time.Now()
	v.Queued(now.Add(-time.Millisecond), now)
	fams := scrape(t, r)
	if a := find(t, fams[ArenaBytesInUse], map[string]string{"plugin": "cpu", "zone": "plugin"}); a.GetGauge().GetValue() != 8192 {
		t.Errorf("arena = %v", a.GetGauge().GetValue())
	}
	if c := find(t, fams[PluginRestarts], map[string]string{"plugin": "cpu"}); c.GetCounter().GetValue() != 1 {
		t.Errorf("restarts = %v", c.GetCounter().GetValue())
	}
	if c := find(t, fams[ConfigReloads], map[string]string{"result": "failure"}); c.GetCounter().GetValue() != 1 {
		t.Errorf("reloads = %v", c.GetCounter().GetValue())
	}
	if h := find(t, fams[DynamicBatchSize], map[string]string{"name": "b", "version": "1"}).GetHistogram(); h.GetSampleSum() != 3 {
		t.Errorf("batch size sum = %v", h.GetSampleSum())
	}
	if h := find(t, fams[DynamicBatchQueueTime], map[string]string{"name": "b", "version": "1"}).GetHistogram(); h.GetSampleSum() != 1000 {
		t.Errorf("queue time sum = %v", h.GetSampleSum())
	}
}

// BenchmarkRequest is the metrics work of one inference request (begin,
// wait, infer, end). Run with -benchmem: off must be 0 allocs/op.
func BenchmarkRequest(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"off", Config{}}, {"on", Config{Enable: true}}, {"all", Config{Enable: true, List: append(append([]string{}, DefaultFamilies...), OptionalFamilies...)}}} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := New(tc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			v := r.Version("m", 1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := Now()
				v.Begin()
				t := v.Clock()
				v.Waited(t)
				v.Inferred(v.Clock(), -1)
				v.Finished()
				v.End(KServeGRPCModelInfer, start, true)
			}
		})
	}
}
