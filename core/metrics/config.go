// Package metrics serves OVMS's Prometheus metrics on the REST port
// (GET /metrics) with OpenTelemetry's metric SDK and its Prometheus
// exporter: OVMS's families, labels and histogram buckets, plus a few ovms
// additions (plugin restarts, arena bytes in use, config reloads, dynamic
// batch sizes, batch queue time).
//
// Everything is resolved when a model version loads (Registry.Version):
// the request path only calls pre-bound instruments, and when metrics are
// off it holds a nil *Version and does nothing at all.
package metrics

import (
	"errors"
	"fmt"
	"strings"
)

// OVMS's metric family names (src/metric_config.cpp).
const (
	RequestsSuccess        = "ovms_requests_success"
	RequestsFail           = "ovms_requests_fail"
	Streams                = "ovms_streams"
	InferReqQueueSize      = "ovms_infer_req_queue_size"
	InferReqActive         = "ovms_infer_req_active"
	InferenceTime          = "ovms_inference_time_us"
	CurrentRequests        = "ovms_current_requests"
	RequestTime            = "ovms_request_time_us"
	WaitForInferReqTime    = "ovms_wait_for_infer_req_time_us"
	PluginRestarts         = "ovms_plugin_restarts"
	ArenaBytesInUse        = "ovms_arena_bytes_in_use"
	ConfigReloads          = "ovms_config_reloads"
	DynamicBatchSize       = "ovms_dynamic_batch_size"
	DynamicBatchQueueTime  = "ovms_dynamic_batch_queue_time_us"
	errInvalidMetricsNames = "Invalid name in metrics_list"
)

// DefaultFamilies are on when metrics are enabled without a metrics_list:
// OVMS's default set, then the ovms additions.
var DefaultFamilies = []string{
	Streams, CurrentRequests, RequestsSuccess, RequestsFail, RequestTime, InferenceTime, WaitForInferReqTime,
	PluginRestarts, ArenaBytesInUse, ConfigReloads, DynamicBatchSize, DynamicBatchQueueTime,
}

// OptionalFamilies are on only when a metrics_list names them (OVMS's
// additional set).
var OptionalFamilies = []string{InferReqQueueSize, InferReqActive}

// ErrInvalidName is OVMS's INVALID_METRICS_FAMILY_NAME: a metrics_list
// entry that names no family. The server does not start.
var ErrInvalidName = errors.New(errInvalidMetricsNames)

// Config is the metrics setting, from --metrics_enable/--metrics_list or
// config.json's "monitoring": {"metrics": {"enable", "metrics_list"}}.
type Config struct {
	// Enable turns /metrics on.
	Enable bool
	// List names the families to serve; nil serves DefaultFamilies.
	List []string
}

// ParseList splits --metrics_list (comma-separated, entries trimmed, as
// OVMS's loadFromCLIString does); "" is nil (the default set).
func ParseList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Families is the set of enabled families, or an error wrapping
// ErrInvalidName naming the first unknown entry.
func (c Config) Families() (map[string]bool, error) {
	on := map[string]bool{}
	if !c.Enable {
		return on, nil
	}
	if c.List == nil {
		for _, f := range DefaultFamilies {
			on[f] = true
		}
		return on, nil
	}
	for _, name := range c.List {
		if !known(name) {
			return nil, fmt.Errorf("%w: metrics family name not supported: %q", ErrInvalidName, name)
		}
		on[name] = true
	}
	return on, nil
}

func known(name string) bool {
	for _, f := range DefaultFamilies {
		if f == name {
			return true
		}
	}
	for _, f := range OptionalFamilies {
		if f == name {
			return true
		}
	}
	return false
}
