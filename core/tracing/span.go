package tracing

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The API values of the ovms.api attribute (the api label of the metrics).
const (
	KServe = "KServe"
	TFS    = "TensorFlowServing"
)

// Attribute keys of ovms's spans.
const (
	AttrAPI          = "ovms.api"           // KServe or TensorFlowServing
	AttrProtocol     = "ovms.protocol"      // grpc or http
	AttrModelName    = "ovms.model.name"    // the model the request named
	AttrModelVersion = "ovms.model.version" // the version that served it
	AttrPluginFamily = "ovms.plugin.family" // the device plugin's family, e.g. cpu
	AttrPluginKey    = "ovms.plugin.process"
	AttrPluginPID    = "ovms.plugin.pid"
	AttrBatchRows    = "ovms.batch.rows" // rows of the dynamic batch the request ran in
	AttrBatched      = "ovms.batched"
)

// Span is one request's API span. The zero Span is tracing off (or a
// request the sampler dropped): its methods return at once.
type Span struct {
	s trace.Span
}

// On reports whether the span records.
func (s Span) On() bool { return s.s != nil }

// StartGRPC starts the API span of a gRPC call (rpc.service/rpc.method, as
// "inference.GRPCInferenceService/ModelInfer") whose parent is the trace
// context in the call's incoming metadata, if any. The returned context
// carries the span. With tracing off it returns ctx and the zero Span.
func StartGRPC(ctx context.Context, service, method, api string) (context.Context, Span) {
	t := active.Load()
	if t == nil {
		return ctx, Span{}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = t.prop.Extract(ctx, mdCarrier(md))
	}
	ctx, sp := t.tracer.Start(ctx, service+"/"+method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", service), attribute.String("rpc.method", method),
		attribute.String(AttrAPI, api), attribute.String(AttrProtocol, "grpc")))
	if !sp.IsRecording() {
		return ctx, Span{}
	}
	return ctx, Span{s: sp}
}

// StartHTTP starts the API span of a REST request named "METHOD route"
// (route with {model_name} for the model, as "POST
// /v2/models/{model_name}/infer") whose parent is the trace context in the
// request's headers, if any. With tracing off it returns r and the zero
// Span; otherwise a request whose context carries the span.
func StartHTTP(r *http.Request, route, api string) (*http.Request, Span) {
	t := active.Load()
	if t == nil {
		return r, Span{}
	}
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, sp := t.tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
		attribute.String("url.path", r.URL.Path), attribute.String(AttrAPI, api), attribute.String(AttrProtocol, "http")))
	if !sp.IsRecording() {
		return r, Span{}
	}
	return r.WithContext(ctx), Span{s: sp}
}

// FromContext is the API span ctx carries; the zero Span when tracing is
// off or there is none that records.
func FromContext(ctx context.Context) Span {
	if active.Load() == nil {
		return Span{}
	}
	sp := trace.SpanFromContext(ctx)
	if !sp.IsRecording() {
		return Span{}
	}
	return Span{s: sp}
}

// Model records the model name the request names, and the version when
// it names one (0: the default version, recorded by Version once known).
func (s Span) Model(name string, version int64) {
	if s.s == nil {
		return
	}
	s.s.SetAttributes(attribute.String(AttrModelName, name))
	if version > 0 {
		s.s.SetAttributes(attribute.Int64(AttrModelVersion, version))
	}
}

// Version records the version that serves the request.
func (s Span) Version(version int64) {
	if s.s == nil {
		return
	}
	s.s.SetAttributes(attribute.Int64(AttrModelVersion, version))
}

// FailHTTP marks the span failed with the HTTP status and OVMS's message.
func (s Span) FailHTTP(code int, msg string) {
	if s.s == nil {
		return
	}
	s.s.SetAttributes(attribute.Int("http.response.status_code", code))
	s.s.SetStatus(otelcodes.Error, msg)
}

// EndGRPC ends the span of a gRPC call that returned err (nil: success),
// marking it failed with OVMS's message when err is not nil.
func (s Span) EndGRPC(err error) {
	if s.s == nil {
		return
	}
	st := status.Convert(err)
	s.s.SetAttributes(attribute.Int("rpc.grpc.status_code", int(st.Code())))
	if err != nil {
		s.s.SetStatus(otelcodes.Error, st.Message())
	}
	s.s.End()
}

// End ends the span.
func (s Span) End() {
	if s.s == nil {
		return
	}
	s.s.End()
}

// Queue records the time a request waited (for an inference slot, or in a
// dynamic batch until it was sent) as a "queue" child of ctx's span.
// Nothing happens unless that span records or start is zero.
func Queue(ctx context.Context, start, end time.Time, batched bool) {
	if start.IsZero() || !Recording(ctx) {
		return
	}
	t := active.Load()
	_, sp := t.tracer.Start(ctx, "queue", trace.WithTimestamp(start), trace.WithAttributes(attribute.Bool(AttrBatched, batched)))
	sp.End(trace.WithTimestamp(end))
}

// PluginCall is one call to a device plugin, for Plugin.
type PluginCall struct {
	// Family is the plugin's device family; Process its process key (the
	// family, or family/model); PID its process id.
	Family, Process string
	PID             int
	// Start and End bound the call as the core saw it.
	Start, End time.Time
	// EngineStart and EngineEnd (Unix nanoseconds) bound the engine run as
	// the plugin reported it; zero when it did not.
	EngineStart, EngineEnd int64
	// Rows is the dynamic batch's size; 0 for a request sent alone.
	Rows int
	// Err is the call's error, nil on success.
	Err error
}

// Plugin records a plugin call as a "plugin" child of ctx's span, with an
// "engine" child when the plugin reported the engine's run. Nothing
// happens unless that span records or c.Start is zero.
func Plugin(ctx context.Context, c *PluginCall) {
	if c.Start.IsZero() || !Recording(ctx) {
		return
	}
	t := active.Load()
	attrs := []attribute.KeyValue{attribute.String(AttrPluginFamily, c.Family), attribute.String(AttrPluginKey, c.Process),
		attribute.Int(AttrPluginPID, c.PID)}
	if c.Rows > 0 {
		attrs = append(attrs, attribute.Int(AttrBatchRows, c.Rows))
	}
	pctx, sp := t.tracer.Start(ctx, "plugin", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(c.Start), trace.WithAttributes(attrs...))
	if c.EngineStart != 0 && c.EngineEnd >= c.EngineStart {
		_, es := t.tracer.Start(pctx, "engine", trace.WithTimestamp(time.Unix(0, c.EngineStart)))
		es.End(trace.WithTimestamp(time.Unix(0, c.EngineEnd)))
	}
	if c.Err != nil {
		sp.SetStatus(otelcodes.Error, status.Convert(c.Err).Message())
	}
	sp.End(trace.WithTimestamp(c.End))
}

// mdCarrier reads and writes W3C headers in gRPC metadata (keys are lower
// case there, as the propagators use them).
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c mdCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}
