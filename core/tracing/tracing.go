// Package tracing exports OpenTelemetry spans of inference requests over
// OTLP when the standard OTEL_EXPORTER_OTLP_* variables ask for it, and
// does nothing otherwise.
//
// Each inference request gets an API span (server kind) whose parent is the
// client's span when the request carries W3C trace context (traceparent,
// tracestate, baggage) in its HTTP headers or gRPC metadata, and children:
// "queue" (waiting for an inference slot or a dynamic batch), "plugin" (the
// call to the device plugin) and, under it, "engine" (the engine run, as the
// plugin timed it).
//
// Off is the default and costs one atomic pointer load per hook: no
// allocation, no lock, no clock reading (see On).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of ovms's spans.
const ScopeName = "github.com/ovmsgo/ovms"

// ServiceName is the default service.name resource attribute.
const ServiceName = "ovms"

// The environment variables that decide whether tracing is on and how spans
// travel (the OpenTelemetry specification's names; the exporters read the
// rest of the OTEL_EXPORTER_OTLP_* variables themselves).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
)

// ErrConfig marks a tracing configuration that cannot be used (an unknown
// protocol or exporter).
var ErrConfig = errors.New("tracing configuration")

// Tracer is an enabled tracing pipeline: a tracer provider with a batch
// span processor in front of an OTLP exporter, and the W3C propagators. A
// nil *Tracer is tracing off.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// active is the Tracer the request hooks use; nil: off.
var active atomic.Pointer[Tracer]

// On reports whether tracing is on (one atomic load).
func On() bool { return active.Load() != nil }

// Settings is what the environment says about tracing.
type Settings struct {
	// Enabled is true when an OTLP endpoint is set and neither
	// OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none turns it off.
	Enabled bool
	// Protocol is "grpc" or "http/protobuf".
	Protocol string
	// Reason says why tracing is off, for the log.
	Reason string
}

// FromEnv reads the settings with getenv (os.Getenv in the server). An
// exporter other than otlp or none, or a protocol other than grpc and
// http/protobuf, is an error wrapping ErrConfig.
func FromEnv(getenv func(string) string) (Settings, error) {
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return Settings{Reason: EnvSDKDisabled + "=true"}, nil
	}
	switch exp := strings.TrimSpace(getenv(EnvTracesExporter)); exp {
	case "", "otlp":
	case "none":
		return Settings{Reason: EnvTracesExporter + "=none"}, nil
	default:
		return Settings{}, fmt.Errorf("%w: %s=%q: ovms exports traces with otlp only (or none)", ErrConfig, EnvTracesExporter, exp)
	}
	if getenv(EnvEndpoint) == "" && getenv(EnvTracesEndpoint) == "" {
		return Settings{Reason: "no " + EnvEndpoint + " or " + EnvTracesEndpoint}, nil
	}
	proto := strings.TrimSpace(getenv(EnvTracesProtocol))
	if proto == "" {
		proto = strings.TrimSpace(getenv(EnvProtocol))
	}
	switch proto {
	case "":
		proto = "http/protobuf" // the specification's default
	case "grpc", "http/protobuf":
	default:
		return Settings{}, fmt.Errorf("%w: OTLP protocol %q: use grpc or http/protobuf", ErrConfig, proto)
	}
	return Settings{Enabled: true, Protocol: proto}, nil
}

// Start builds the pipeline the environment asks for and makes it the one
// requests use. It returns nil (and no error) when tracing is off. version
// is the service.version resource attribute; log receives the exporter's
// errors.
func Start(ctx context.Context, version string, log *logrus.Entry) (*Tracer, error) {
	s, err := FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if !s.Enabled {
		log.WithField("reason", s.Reason).Debug("tracing off")
		return nil, nil
	}
	var exp sdktrace.SpanExporter
	if s.Protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP %s exporter: %w", s.Protocol, err)
	}
	// Later sources win: our defaults, then OTEL_RESOURCE_ATTRIBUTES and
	// OTEL_SERVICE_NAME.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", ServiceName), attribute.String("service.version", version)),
		resource.WithFromEnv(),
	)
	if err != nil {
		log.WithError(err).Warn("tracing: resource attributes from the environment partly unusable")
	}
	// The sampler comes from OTEL_TRACES_SAMPLER(_ARG), parentbased_always_on
	// by default; the batch processor's settings from OTEL_BSP_*.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.WithError(err).Warn("OpenTelemetry SDK error (exporting spans)")
	}))
	t := &Tracer{
		provider: tp,
		tracer:   tp.Tracer(ScopeName),
		prop:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	active.Store(t)
	log.WithFields(logrus.Fields{"protocol": s.Protocol, "endpoint": endpoint()}).Info("tracing on: exporting spans over OTLP")
	return t, nil
}

// endpoint is the configured endpoint, for the log.
func endpoint() string {
	if e := os.Getenv(EnvTracesEndpoint); e != "" {
		return e
	}
	return os.Getenv(EnvEndpoint)
}

// Shutdown stops the hooks and flushes the spans not yet exported, within
// ctx. Nil-safe.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	active.CompareAndSwap(t, nil)
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flushing spans: %w", err)
	}
	return nil
}

// Use makes a tracer of tp the one requests use, as Start does from the
// environment (for tests, with an in-memory exporter); Shutdown ends it and
// tp.
func Use(tp *sdktrace.TracerProvider) *Tracer {
	t := &Tracer{provider: tp, tracer: tp.Tracer(ScopeName),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	active.Store(t)
	return t
}

// Recording reports whether ctx carries a span that records: children are
// made only under one (a request the sampler dropped costs nothing more).
func Recording(ctx context.Context) bool {
	return active.Load() != nil && trace.SpanFromContext(ctx).IsRecording()
}

// Now reads the clock when tracing is on, else gives the zero time.
func Now() time.Time {
	if active.Load() == nil {
		return time.Time{}
	}
	return time.Now()
}
