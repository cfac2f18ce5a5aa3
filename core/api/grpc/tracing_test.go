package grpcapi_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/metadata"

	"github.com/ovmsgo/ovms/core/tracing"
)

// TestModelInferAllocsTracing: tracing off costs the request path no
// allocation (the hooks' own test is in core/tracing); on, it stays within
// a bounded number per request (API, queue, plugin and engine spans).
func TestModelInferAllocsTracing(t *testing.T) {
	md := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	off := modelInferAllocs(t, md)
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	defer tr.Shutdown(context.Background())
	on := modelInferAllocs(t, md)
	spans := exp.GetSpans()
	// API, queue and plugin spans: the mock plugin reports no engine run.
	if len(spans) < 3*550 {
		t.Fatalf("%d spans for 550 traced requests", len(spans))
	}
	t.Logf("ModelInfer allocations per request: tracing off %.1f, on %.1f (+%.1f)", off, on, on-off)
	if on-off > 150 {
		t.Errorf("tracing on adds %.1f allocations per request", on-off)
	}
}
