package tracing

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/tracing/tracingtest"
)

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + clientTrace + "-" + clientSpan + "-01"
)

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		enabled bool
		proto   string
		err     bool
	}{
		{"nothing set", nil, false, "", false},
		{"endpoint", map[string]string{EnvEndpoint: "http://c:4318"}, true, "http/protobuf", false},
		{"traces endpoint", map[string]string{EnvTracesEndpoint: "http://c:4318/v1/traces"}, true, "http/protobuf", false},
		{"grpc", map[string]string{EnvEndpoint: "http://c:4317", EnvProtocol: "grpc"}, true, "grpc", false},
		{"traces protocol wins", map[string]string{EnvEndpoint: "x", EnvProtocol: "grpc", EnvTracesProtocol: "http/protobuf"}, true, "http/protobuf", false},
		{"exporter none", map[string]string{EnvEndpoint: "x", EnvTracesExporter: "none"}, false, "", false},
		{"exporter otlp", map[string]string{EnvEndpoint: "x", EnvTracesExporter: "otlp"}, true, "http/protobuf", false},
		{"sdk disabled", map[string]string{EnvEndpoint: "x", EnvSDKDisabled: "TRUE"}, false, "", false},
		{"sdk not disabled", map[string]string{EnvEndpoint: "x", EnvSDKDisabled: "false"}, true, "http/protobuf", false},
		{"http/json unsupported", map[string]string{EnvEndpoint: "x", EnvProtocol: "http/json"}, false, "", true},
		{"zipkin exporter", map[string]string{EnvEndpoint: "x", EnvTracesExporter: "zipkin"}, false, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := FromEnv(func(k string) string { return c.env[k] })
			if (err != nil) != c.err {
				t.Fatalf("err %v, want error %v", err, c.err)
			}
			if err != nil {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("error %v does not wrap ErrConfig", err)
				}
				return
			}
			if s.Enabled != c.enabled || s.Protocol != c.proto {
				t.Fatalf("got %+v, want enabled %v protocol %q", s, c.enabled, c.proto)
			}
			if !s.Enabled && s.Reason == "" {
				t.Fatal("off without a reason")
			}
		})
	}
}

// TestOffNoAllocs: with tracing off, every hook on the request path
// allocates nothing and reads no clock.
func TestOffNoAllocs(t *testing.T) {
	if On() {
		t.Fatal("tracing on at test start")
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", traceparent))
	r := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
	r.Header.Set("traceparent", traceparent)
	call := &PluginCall{Family: "cpu", Start: time.Now(), End: time.Now()}
	start := time.Now()
	var err error
	n := testing.AllocsPerRun(1000, func() {
		c, sp := StartGRPC(ctx, "inference.GRPCInferenceService", "ModelInfer", KServe)
		sp.Model("m", 1)
		sp.Version(1)
		if !Now().IsZero() {
			t.Fatal("clock read while off")
		}
		Queue(c, start, time.Time{}, false)
		Plugin(c, call)
		sp.EndGRPC(err)
		r2, hs := StartHTTP(r, "/v2/models/{model_name}/infer", KServe)
		if r2 != r || hs.On() {
			t.Fatal("request replaced while off")
		}
		FromContext(r2.Context()).FailHTTP(400, "x")
		hs.End()
	})
	if n != 0 {
		t.Fatalf("%v allocations per request with tracing off, want 0", n)
	}
}

// inMemory makes a tracer over an in-memory exporter active for the test.
func inMemory(t *testing.T, opts ...sdktrace.TracerProviderOption) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSyncer(exp)}, opts...)...)
	tr := Use(tp)
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return exp
}

func byName(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q in %v", name, spans)
	return tracetest.SpanStub{}
}

func attr(s tracetest.SpanStub, key string) any {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.AsInterface()
		}
	}
	return nil
}

// TestGRPCSpanTree: the client's traceparent in gRPC metadata is the API
// span's parent; queue and plugin are its children, engine the plugin's,
// with the timestamps given; a failure carries OVMS's message.
func TestGRPCSpanTree(t *testing.T) {
	exp := inMemory(t)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", traceparent, "baggage", "tenant=a"))
	ctx, sp := StartGRPC(ctx, "inference.GRPCInferenceService", "ModelInfer", KServe)
	if !sp.On() {
		t.Fatal("span off with tracing on")
	}
	sp.Model("resnet", 0)
	sp.Version(3)
	t0 := time.Now()
	Queue(ctx, t0, t0.Add(time.Millisecond), false)
	es, ee := t0.Add(3*time.Millisecond), t0.Add(5*time.Millisecond)
	Plugin(ctx, &PluginCall{Family: "cpu", Process: "cpu", PID: 42, Start: t0.Add(2 * time.Millisecond), End: t0.Add(6 * time.Millisecond),
		EngineStart: es.UnixNano(), EngineEnd: ee.UnixNano()})
	sp.EndGRPC(status.Error(codes.InvalidArgument, "Invalid input name"))

	spans := exp.GetSpans()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4: %v", len(spans), spans)
	}
	api := byName(t, spans, "inference.GRPCInferenceService/ModelInfer")
	if api.SpanContext.TraceID().String() != clientTrace || api.Parent.SpanID().String() != clientSpan || !api.Parent.IsRemote() {
		t.Fatalf("API span trace %s parent %s, want %s %s", api.SpanContext.TraceID(), api.Parent.SpanID(), clientTrace, clientSpan)
	}
	if api.SpanKind != trace.SpanKindServer {
		t.Errorf("API span kind %v", api.SpanKind)
	}
	if api.Status.Code != otelcodes.Error || api.Status.Description != "Invalid input name" {
		t.Errorf("API span status %+v", api.Status)
	}
	for k, want := range map[string]any{AttrModelName: "resnet", AttrModelVersion: int64(3), AttrAPI: KServe, AttrProtocol: "grpc",
		"rpc.system": "grpc", "rpc.method": "ModelInfer", "rpc.grpc.status_code": int64(codes.InvalidArgument)} {
		if got := attr(api, k); got != want {
			t.Errorf("API span %s = %v (%T), want %v", k, got, got, want)
		}
	}
	q, p, e := byName(t, spans, "queue"), byName(t, spans, "plugin"), byName(t, spans, "engine")
	if q.Parent.SpanID() != api.SpanContext.SpanID() || p.Parent.SpanID() != api.SpanContext.SpanID() {
		t.Errorf("queue/plugin parents %s %s, want the API span %s", q.Parent.SpanID(), p.Parent.SpanID(), api.SpanContext.SpanID())
	}
	if e.Parent.SpanID() != p.SpanContext.SpanID() {
		t.Errorf("engine's parent %s, want plugin %s", e.Parent.SpanID(), p.SpanContext.SpanID())
	}
	if !e.StartTime.Equal(es) || !e.EndTime.Equal(ee) || !q.StartTime.Equal(t0) || !p.EndTime.Equal(t0.Add(6*time.Millisecond)) {
		t.Errorf("timestamps: queue %v-%v plugin %v-%v engine %v-%v", q.StartTime, q.EndTime, p.StartTime, p.EndTime, e.StartTime, e.EndTime)
	}
	if attr(p, AttrPluginPID) != int64(42) || attr(p, AttrPluginFamily) != "cpu" {
		t.Errorf("plugin attributes %v", p.Attributes)
	}
}

// TestHTTPSpan: traceparent from HTTP headers; fail marks the span through
// the request's context.
func TestHTTPSpan(t *testing.T) {
	exp := inMemory(t)
	r := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
	r.Header.Set("traceparent", traceparent)
	r2, sp := StartHTTP(r, "/v2/models/{model_name}/infer", KServe)
	if r2 == r || !sp.On() {
		t.Fatal("no span in the request's context")
	}
	sp.Model("m", 2)
	FromContext(r2.Context()).FailHTTP(404, "Model with requested name is not found")
	sp.End()
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name != "POST /v2/models/{model_name}/infer" || s.Parent.SpanID().String() != clientSpan || s.SpanContext.TraceID().String() != clientTrace {
		t.Fatalf("span %s parent %s trace %s", s.Name, s.Parent.SpanID(), s.SpanContext.TraceID())
	}
	if s.Status.Code != otelcodes.Error || s.Status.Description != "Model with requested name is not found" || attr(s, "http.response.status_code") != int64(404) {
		t.Fatalf("status %+v attributes %v", s.Status, s.Attributes)
	}
}

// TestUnsampledParent: a client that did not sample (flags 00) gets no
// spans under the default parentbased_always_on sampler, and the request
// path takes the off branch.
func TestUnsampledParent(t *testing.T) {
	exp := inMemory(t)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-"+clientTrace+"-"+clientSpan+"-00"))
	ctx, sp := StartGRPC(ctx, "s", "m", KServe)
	if sp.On() || Recording(ctx) {
		t.Fatal("unsampled request records")
	}
	Queue(ctx, time.Now(), time.Time{}, false)
	sp.EndGRPC(nil)
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans exported", n)
	}
}

// TestStartExportsOTLP: Start reads the standard variables and exports to
// an OTLP receiver over both protocols, with ovms's resource attributes
// (or OTEL_SERVICE_NAME's), and flushes at Shutdown.
func TestStartExportsOTLP(t *testing.T) {
	rcv := tracingtest.Start(t)
	log := logrus.NewEntry(logrus.New())
	for _, c := range []struct{ protocol, endpoint, service string }{
		{"grpc", "http://" + rcv.GRPCEndpoint, ""},
		{"http/protobuf", rcv.HTTPEndpoint, "edge-ovms"},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			t.Setenv(EnvEndpoint, c.endpoint)
			t.Setenv(EnvProtocol, c.protocol)
			t.Setenv("OTEL_SERVICE_NAME", c.service)
			tr, err := Start(context.Background(), "v9.9", log)
			if err != nil || tr == nil {
				t.Fatalf("Start: %v %v", tr, err)
			}
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", traceparent))
			_, sp := StartGRPC(ctx, "tensorflow.serving.PredictionService", "Predict", TFS)
			sp.EndGRPC(nil)
			before := len(rcv.Spans())
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if On() {
				t.Fatal("still on after Shutdown")
			}
			spans := rcv.Spans()[before:]
			if len(spans) != 1 {
				t.Fatalf("%d spans received at shutdown, want 1", len(spans))
			}
			s := spans[0]
			want := c.service
			if want == "" {
				want = ServiceName
			}
			if s.Protocol != c.protocol || s.TraceID != clientTrace || s.ParentSpanID != clientSpan ||
				s.Resource["service.name"] != want || s.Resource["service.version"] != "v9.9" || s.Scope != ScopeName {
				t.Fatalf("received %+v", s)
			}
		})
	}
}

// TestStartOff: without an endpoint Start gives nil and tracing stays off.
func TestStartOff(t *testing.T) {
	t.Setenv(EnvEndpoint, "")
	t.Setenv(EnvTracesEndpoint, "")
	tr, err := Start(context.Background(), "v", logrus.NewEntry(logrus.New()))
	if tr != nil || err != nil || On() {
		t.Fatalf("Start without endpoint: %v %v on=%v", tr, err, On())
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
