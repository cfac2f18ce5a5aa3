package metrics

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Call is one (api, interface, method) a request counts under.
type Call uint8

// The calls OVMS counts per model version.
const (
	TFSGRPCPredict Call = iota
	TFSGRPCGetModelMetadata
	TFSGRPCGetModelStatus
	TFSRESTPredict
	TFSRESTGetModelMetadata
	TFSRESTGetModelStatus
	KServeGRPCModelInfer
	KServeGRPCModelMetadata
	KServeGRPCModelReady
	KServeRESTModelInfer
	KServeRESTModelMetadata
	KServeRESTModelReady
	numCalls
)

// callLabels are each call's api, interface and method labels, and
// whether it carries a version label (OVMS's GetModelStatus and ModelReady
// do not).
var callLabels = [numCalls]struct {
	api, iface, method string
	versioned          bool
}{
	TFSGRPCPredict:          {"TensorFlowServing", "gRPC", "Predict", true},
	TFSGRPCGetModelMetadata: {"TensorFlowServing", "gRPC", "GetModelMetadata", true},
	TFSGRPCGetModelStatus:   {"TensorFlowServing", "gRPC", "GetModelStatus", false},
	TFSRESTPredict:          {"TensorFlowServing", "REST", "Predict", true},
	TFSRESTGetModelMetadata: {"TensorFlowServing", "REST", "GetModelMetadata", true},
	TFSRESTGetModelStatus:   {"TensorFlowServing", "REST", "GetModelStatus", false},
	KServeGRPCModelInfer:    {"KServe", "gRPC", "ModelInfer", true},
	KServeGRPCModelMetadata: {"KServe", "gRPC", "ModelMetadata", true},
	KServeGRPCModelReady:    {"KServe", "gRPC", "ModelReady", false},
	KServeRESTModelInfer:    {"KServe", "REST", "ModelInfer", true},
	KServeRESTModelMetadata: {"KServe", "REST", "ModelMetadata", true},
	KServeRESTModelReady:    {"KServe", "REST", "ModelReady", false},
}

// grpcIface and restIface index Version.reqTime.
const (
	grpcIface = iota
	restIface
)

// Version is the instruments of one model version, bound to its labels
// once (all series exist, at zero, from its load on, as in OVMS). A nil
// *Version is metrics off: every method returns at once.
type Version struct {
	r        *Registry
	bg       context.Context
	calls    [numCalls][]metric.AddOption
	reqTime  [2][]metric.RecordOption
	nvAdd    []metric.AddOption
	nvRecord []metric.RecordOption
}

// Version binds the instruments for model name, version number. It
// returns nil when r is nil (metrics off).
func (r *Registry) Version(name string, number int64) *Version {
	if r == nil {
		return nil
	}
	ver := strconv.FormatInt(number, 10)
	nv := metric.WithAttributeSet(attribute.NewSet(attribute.String("name", name), attribute.String("version", ver)))
	v := &Version{r: r, bg: context.Background(), nvAdd: []metric.AddOption{nv}, nvRecord: []metric.RecordOption{nv}}
	for c := range numCalls {
		l := callLabels[c]
		kv := []attribute.KeyValue{attribute.String("api", l.api), attribute.String("interface", l.iface),
			attribute.String("method", l.method), attribute.String("name", name)}
		if l.versioned {
			kv = append(kv, attribute.String("version", ver))
		}
		v.calls[c] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
		// OVMS creates every series at load: they show 0 until used.
		if r.success != nil {
			r.success.Add(v.bg, 0, v.calls[c]...)
		}
		if r.fail != nil {
			r.fail.Add(v.bg, 0, v.calls[c]...)
		}
	}
	for i, iface := range []string{"gRPC", "REST"} {
		v.reqTime[i] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("interface", iface), attribute.String("name", name), attribute.String("version", ver)))}
	}
	if r.current != nil {
		r.current.Add(v.bg, 0, v.nvAdd...)
	}
	if r.active != nil {
		r.active.Add(v.bg, 0, v.nvAdd...)
	}
	return v
}

// Begin marks a request to the version as in process; End must follow.
func (v *Version) Begin() {
	if v == nil || v.r.current == nil {
		return
	}
	v.r.current.Add(v.bg, 1, v.nvAdd...)
}

// Now is the start time of a request for End: the clock while metrics are
// on, else the zero time (one atomic load).
func Now() time.Time {
	if !timing.Load() {
		return time.Time{}
	}
	return time.Now()
}

// timing is set while a Registry is open: API handlers read the clock only then.
var timing atomic.Bool

// End counts a request begun at start as a success or a failure of call,
// and its time in ovms_request_time_us.
func (v *Version) End(c Call, start time.Time, ok bool) {
	if v == nil {
		return
	}
	if v.r.current != nil {
		v.r.current.Add(v.bg, -1, v.nvAdd...)
	}
	if v.r.requestTime != nil && !start.IsZero() {
		i := grpcIface
		if callLabels[c].iface == "REST" {
			i = restIface
		}
		v.r.requestTime.Record(v.bg, time.Since(start).Microseconds(), v.reqTime[i]...)
	}
	v.Count(c, ok)
}

// Count counts a call as a success or a failure (metadata and status calls,
// which OVMS does not time).
func (v *Version) Count(c Call, ok bool) {
	if v == nil {
		return
	}
	if ok {
		if v.r.success != nil {
			v.r.success.Add(v.bg, 1, v.calls[c]...)
		}
	} else if v.r.fail != nil {
		v.r.fail.Add(v.bg, 1, v.calls[c]...)
	}
}

// Clock reads the time for the Waited and Inferred spans, or gives the
// zero time when none of them is on.
func (v *Version) Clock() time.Time {
	if v == nil || (v.r.waitTime == nil && v.r.inferTime == nil && v.r.batchQueueTime == nil) {
		return time.Time{}
	}
	return time.Now()
}

// Waited records the time since start spent waiting for an inference
// request (a nireq slot), and marks one more active.
func (v *Version) Waited(start time.Time) {
	if v == nil {
		return
	}
	if v.r.waitTime != nil && !start.IsZero() {
		v.r.waitTime.Record(v.bg, time.Since(start).Microseconds(), v.nvRecord...)
	}
	if v.r.active != nil {
		v.r.active.Add(v.bg, 1, v.nvAdd...)
	}
}

// Finished marks an inference request taken by Waited as free again.
func (v *Version) Finished() {
	if v == nil || v.r.active == nil {
		return
	}
	v.r.active.Add(v.bg, -1, v.nvAdd...)
}

// Inferred records in ovms_inference_time_us the engine's run of a plugin
// call that began at start: engine, as the plugin reported it, or the whole
// call (start to now) when engine is negative (not reported). Like OVMS's,
// whose figure is the backend's own inference, the time excludes the
// crossing to the plugin and back, which ovms_request_time_us still counts.
func (v *Version) Inferred(start time.Time, engine time.Duration) {
	if v == nil || v.r.inferTime == nil || start.IsZero() {
		return
	}
	took := engine
	if took < 0 {
		took = time.Since(start)
	}
	v.r.inferTime.Record(v.bg, took.Microseconds(), v.nvRecord...)
}

// Batched records a dynamic batch of rows sent to the device.
func (v *Version) Batched(rows int) {
	if v == nil || v.r.batchSize == nil {
		return
	}
	v.r.batchSize.Record(v.bg, int64(rows), v.nvRecord...)
}

// Queued records the time from joined until sent a request waited in a
// dynamic batch.
func (v *Version) Queued(joined, sent time.Time) {
	if v == nil || v.r.batchQueueTime == nil || joined.IsZero() || sent.IsZero() {
		return
	}
	v.r.batchQueueTime.Record(v.bg, sent.Sub(joined).Microseconds(), v.nvRecord...)
}

// Loaded sets the version's gauges: its execution streams and its nireq
// queue size.
func (v *Version) Loaded(streams, nireq int) {
	if v == nil {
		return
	}
	if v.r.streams != nil {
		v.r.streams.Record(v.bg, int64(streams), v.nvRecord...)
	}
	if v.r.queueSize != nil {
		v.r.queueSize.Record(v.bg, int64(nireq), v.nvRecord...)
	}
}
