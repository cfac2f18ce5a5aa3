package metrics

import (
	"context"
	"fmt"
	"math"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
)

// Buckets are OVMS's histogram bounds in microseconds: floor(10 * 1.8^i)
// for i = 0..32 (src/model_metric_reporter.cpp).
var Buckets = func() []float64 {
	b := make([]float64, 33)
	for i := range b {
		b[i] = math.Floor(10 * math.Pow(1.8, float64(i)))
	}
	return b
}()

// batchBuckets bound ovms_dynamic_batch_size: powers of two up to 1024.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

// Registry holds the enabled instruments and the Prometheus registry that
// /metrics serves. A nil *Registry is metrics off: every method is a no-op
// and Version returns nil.
type Registry struct {
	on       map[string]bool
	provider *sdkmetric.MeterProvider
	handler  http.Handler

	success, fail            metric.Int64Counter
	requestTime, inferTime   metric.Int64Histogram
	waitTime, batchQueueTime metric.Int64Histogram
	batchSize                metric.Int64Histogram
	streams, queueSize       metric.Int64Gauge
	current, active          metric.Int64UpDownCounter
	restarts, reloads        metric.Int64Counter
	arena                    metric.Int64ObservableGauge
}

// New builds the registry for cfg; nil (and no error) when metrics are
// off. An unknown metrics_list entry is an error wrapping ErrInvalidName.
func New(cfg Config) (*Registry, error) {
	if !cfg.Enable {
		return nil, nil
	}
	on, err := cfg.Families()
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
		// OVMS's names as they are: no _total, no unit suffixes.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithoutSuffixes),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	r := &Registry{
		on: on,
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp),
			sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter)),
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	m := r.provider.Meter("github.com/ovmsgo/ovms")
	errs := make([]error, 0, 4)
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	us := metric.WithExplicitBucketBoundaries(Buckets...)
	if on[RequestsSuccess] {
		r.success, err = m.Int64Counter(RequestsSuccess, metric.WithDescription("Number of successful requests to a model or a DAG."))
		keep(err)
	}
	if on[RequestsFail] {
		r.fail, err = m.Int64Counter(RequestsFail, metric.WithDescription("Number of failed requests to a model or a DAG."))
		keep(err)
	}
	if on[RequestTime] {
		r.requestTime, err = m.Int64Histogram(RequestTime, metric.WithDescription("Processing time of requests to a model or a DAG."), us)
		keep(err)
	}
	if on[InferenceTime] {
		r.inferTime, err = m.Int64Histogram(InferenceTime, metric.WithDescription("Inference execution time in the OpenVINO backend."), us)
		keep(err)
	}
	if on[WaitForInferReqTime] {
		r.waitTime, err = m.Int64Histogram(WaitForInferReqTime, metric.WithDescription("Request waiting time in the scheduling queue."), us)
		keep(err)
	}
	if on[Streams] {
		r.streams, err = m.Int64Gauge(Streams, metric.WithDescription("Number of OpenVINO execution streams."))
		keep(err)
	}
	if on[InferReqQueueSize] {
		r.queueSize, err = m.Int64Gauge(InferReqQueueSize, metric.WithDescription("Inference request queue size (nireq)."))
		keep(err)
	}
	if on[CurrentRequests] {
		r.current, err = m.Int64UpDownCounter(CurrentRequests, metric.WithDescription("Number of inference requests currently in process."))
		keep(err)
	}
	if on[InferReqActive] {
		r.active, err = m.Int64UpDownCounter(InferReqActive, metric.WithDescription("Number of currently consumed inference request from the processing queue."))
		keep(err)
	}
	if on[PluginRestarts] {
		r.restarts, err = m.Int64Counter(PluginRestarts, metric.WithDescription("ovms: device plugin processes restarted after they ended, by plugin process."))
		keep(err)
	}
	if on[ConfigReloads] {
		r.reloads, err = m.Int64Counter(ConfigReloads, metric.WithDescription("ovms: configuration reloads (file polling, POST /v1/config/reload), by result."))
		keep(err)
	}
	if on[DynamicBatchSize] {
		r.batchSize, err = m.Int64Histogram(DynamicBatchSize, metric.WithDescription("ovms: rows of each batch dynamic batching sent to the device."),
			metric.WithExplicitBucketBoundaries(batchBuckets...))
		keep(err)
	}
	if on[DynamicBatchQueueTime] {
		r.batchQueueTime, err = m.Int64Histogram(DynamicBatchQueueTime, metric.WithDescription("ovms: time a request waited in a dynamic batch before the batch went to the device."), us)
		keep(err)
	}
	if len(errs) > 0 {
		_ = r.provider.Shutdown(context.Background())
		return nil, fmt.Errorf("metrics: creating instruments: %v", errs)
	}
	timing.Store(true)
	return r, nil
}

// Handler serves GET /metrics (Prometheus text format).
func (r *Registry) Handler() http.Handler { return r.handler }

// Enabled reports whether a family is served.
func (r *Registry) Enabled(family string) bool { return r != nil && r.on[family] }

// Close stops the meter provider.
func (r *Registry) Close() {
	if r != nil {
		timing.Store(false)
		_ = r.provider.Shutdown(context.Background())
	}
}

// PluginRestarted counts a restart of the plugin process key (a device
// family, or family/model under --plugin_isolation model).
func (r *Registry) PluginRestarted(key string) {
	if r == nil || r.restarts == nil {
		return
	}
	r.restarts.Add(context.Background(), 1, metric.WithAttributes(attribute.String("plugin", key)))
}

// ConfigReloaded counts a reload that changed something or failed.
func (r *Registry) ConfigReloaded(ok bool) {
	if r == nil || r.reloads == nil {
		return
	}
	result := "success"
	if !ok {
		result = "failure"
	}
	r.reloads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", result)))
}

// ArenaUsage is one plugin process's arena: its key and the bytes
// allocated in its host and plugin zones.
type ArenaUsage struct {
	Plugin     string
	Host, Peer uint64
}

// ObserveArenas makes ovms_arena_bytes_in_use read fn at each scrape.
// Call it once, before serving.
func (r *Registry) ObserveArenas(fn func() []ArenaUsage) error {
	if r == nil || !r.on[ArenaBytesInUse] {
		return nil
	}
	m := r.provider.Meter("github.com/ovmsgo/ovms")
	_, err := m.Int64ObservableGauge(ArenaBytesInUse,
		metric.WithDescription("ovms: bytes allocated in each device plugin's shared-memory arena, by plugin process and zone (host: request inputs; plugin: outputs)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for _, a := range fn() {
				o.Observe(int64(a.Host), metric.WithAttributes(attribute.String("plugin", a.Plugin), attribute.String("zone", "host")))
				o.Observe(int64(a.Peer), metric.WithAttributes(attribute.String("plugin", a.Plugin), attribute.String("zone", "plugin")))
			}
			return nil
		}))
	if err != nil {
		return fmt.Errorf("metrics: %s: %w", ArenaBytesInUse, err)
	}
	return nil
}
