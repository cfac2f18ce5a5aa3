package rest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/sirupsen/logrus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tracing"
)

// TestTracingOffNoAllocs: with tracing off, the REST hooks (span start,
// failure marking) allocate nothing and leave the request as it is.
func TestTracingOffNoAllocs(t *testing.T) {
	r := httptest.NewRequest("POST", "/v2/models/m/infer", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rt := route{kind: routeKFSInfer, model: "m"}
	n := testing.AllocsPerRun(1000, func() {
		r2, sp := startSpan(r, rt)
		if r2 != r || sp.On() {
			t.Fatal("request changed with tracing off")
		}
		tracing.FromContext(r2.Context()).FailHTTP(404, "x")
		sp.End()
	})
	if n != 0 {
		t.Fatalf("%v allocations with tracing off", n)
	}
}

// TestTracingSpanNames: span names and the version attribute per route.
func TestTracingSpanNames(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	defer tr.Shutdown(context.Background())
	s := &Server{log: logrus.NewEntry(logrus.New())}
	for _, c := range []struct {
		path string
		rt   route
		want string
	}{
		{"/v2/models/m/infer", route{kind: routeKFSInfer, model: "m"}, "POST /v2/models/{model_name}/infer"},
		{"/v2/models/m/versions/2/infer", route{kind: routeKFSInfer, model: "m", version: 2}, "POST /v2/models/{model_name}/versions/{model_version}/infer"},
		{"/v1/models/m:predict", route{kind: routePredict, model: "m", method: "predict"}, "POST /v1/models/{model_name}:predict"},
		{"/v1/models/m/versions/3:classify", route{kind: routePredict, model: "m", version: 3, method: "classify"}, "POST /v1/models/{model_name}/versions/{model_version}:classify"},
	} {
		exp.Reset()
		r, sp := startSpan(httptest.NewRequest("POST", c.path, nil), c.rt)
		s.fail(httptest.NewRecorder(), r, apierr.New(apierr.ModelNameMissing))
		sp.End()
		spans := exp.GetSpans()
		if len(spans) != 1 || spans[0].Name != c.want || spans[0].Status.Description != "Model with requested name is not found" {
			t.Errorf("%s: %+v", c.path, spans)
		}
	}
}
