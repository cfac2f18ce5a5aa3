package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Model is the configuration of one served model (a model_config_list entry
// or the single-model flags).
type Model struct {
	// Name is the servable name used in the APIs.
	Name string
	// BasePath holds numbered version directories.
	BasePath string
	// TargetDevice picks the device plugin, e.g. "CPU".
	TargetDevice string
	// PluginConfig is passed to the device plugin; values as strings.
	PluginConfig map[string]string
	// Nireq is the infer request pool size; 0 lets the plugin decide.
	Nireq int
	// VersionPolicy selects the versions to serve.
	VersionPolicy VersionPolicy
	// BatchSize, Shape and Layout are kept as given (reshaping is a later
	// feature; the server rejects them with a clear error until then).
	BatchSize, Shape, Layout string
	// DynamicBatching, when set, gathers concurrent requests into one
	// engine call along the first dimension (an ovms extension).
	DynamicBatching *DynamicBatching
	// Stateful serves the model as a stateful model (OVMS's stateful):
	// requests carry sequence_id and sequence_control_input and the device
	// plugin keeps each sequence's state (docs/stateful.md).
	Stateful bool
	// IdleSequenceCleanup subjects the model's sequences to the sequence
	// cleaner (default true; stateful models only).
	IdleSequenceCleanup bool
	// MaxSequenceNumber bounds the model's concurrent sequences (default
	// 500; stateful models only).
	MaxSequenceNumber uint32
	// LowLatencyTransformation is OVMS's low_latency_transformation
	// (stateful models only); see docs/stateful.md for what it does here.
	LowLatencyTransformation bool
	// StateMapping pairs a stateful ONNX model's state inputs with the
	// outputs that feed them on the next request of a sequence (an ovms
	// extension): state input name -> state output name.
	StateMapping map[string]string
	// CustomLoader, when set, makes the model's version files come from a
	// custom loader plugin (file_loaders.go).
	CustomLoader *CustomLoader
}

// DefaultMaxSequenceNumber is OVMS's max_sequence_number default.
const DefaultMaxSequenceNumber = 500

// ParseStateMapping parses the --state_mapping JSON object {"state input":
// "state output", ...}.
func ParseStateMapping(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("state mapping %q is not a JSON object of strings: %w", s, err)
	}
	return m, checkStateMapping(m)
}

// checkStateMapping refuses empty names and an output fed to two inputs.
func checkStateMapping(m map[string]string) error {
	outs := map[string]string{}
	ins := make([]string, 0, len(m))
	for in := range m {
		ins = append(ins, in)
	}
	sort.Strings(ins)
	for _, in := range ins {
		out := m[in]
		if in == "" || out == "" {
			return fmt.Errorf("state mapping: empty tensor name in %q: %q", in, out)
		}
		if prev, ok := outs[out]; ok {
			return fmt.Errorf("state mapping: output %q feeds both %q and %q", out, prev, in)
		}
		outs[out] = in
	}
	return nil
}

// DynamicBatching configures server-side request batching, with Triton's
// field names.
type DynamicBatching struct {
	// MaxBatchSize is the largest batch (rows along the first dimension).
	MaxBatchSize int `json:"max_batch_size"`
	// MaxQueueDelayMicroseconds is how long a batch may wait for more
	// requests after its first one; 0 sends a batch as soon as the device
	// is idle, gathering only what arrives while it is busy.
	MaxQueueDelayMicroseconds int64 `json:"max_queue_delay_microseconds"`
	// PreferredBatchSize lists sizes worth sending at once: a batch that
	// reaches the largest of them is sent without waiting for the delay.
	PreferredBatchSize []int `json:"preferred_batch_size"`
}

// ParseDynamicBatching parses the --dynamic_batching JSON object.
func ParseDynamicBatching(s string) (*DynamicBatching, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var d DynamicBatching
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("dynamic batching %q: %w", s, err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks the settings.
func (d *DynamicBatching) Validate() error {
	if d.MaxBatchSize < 1 {
		return fmt.Errorf("dynamic batching: max_batch_size must be at least 1, got %d", d.MaxBatchSize)
	}
	if d.MaxQueueDelayMicroseconds < 0 {
		return fmt.Errorf("dynamic batching: max_queue_delay_microseconds must not be negative, got %d", d.MaxQueueDelayMicroseconds)
	}
	for _, p := range d.PreferredBatchSize {
		if p < 1 || p > d.MaxBatchSize {
			return fmt.Errorf("dynamic batching: preferred_batch_size %d is not within 1..max_batch_size (%d)", p, d.MaxBatchSize)
		}
	}
	return nil
}

// DefaultModel returns a model config with the OVMS defaults.
func DefaultModel() Model {
	return Model{TargetDevice: "CPU", VersionPolicy: VersionPolicy{Kind: PolicyLatest, NumVersions: 1},
		IdleSequenceCleanup: true, MaxSequenceNumber: DefaultMaxSequenceNumber}
}

// PolicyKind is the kind of a model version policy.
type PolicyKind int

// The version policy kinds of OVMS.
const (
	PolicyLatest PolicyKind = iota
	PolicyAll
	PolicySpecific
)

// VersionPolicy says which versions found on disk are served.
type VersionPolicy struct {
	// Kind is latest, all or specific.
	Kind PolicyKind
	// NumVersions is the N of latest.
	NumVersions int
	// Versions are the versions of specific.
	Versions []int64
}

// Select returns the versions to serve out of those available, highest first.
func (p VersionPolicy) Select(available []int64) []int64 {
	vs := append([]int64(nil), available...)
	sort.Slice(vs, func(i, j int) bool { return vs[i] > vs[j] })
	switch p.Kind {
	case PolicyAll:
		return vs
	case PolicySpecific:
		want := map[int64]bool{}
		for _, v := range p.Versions {
			want[v] = true
		}
		var out []int64
		for _, v := range vs {
			if want[v] {
				out = append(out, v)
			}
		}
		return out
	default:
		if p.NumVersions < len(vs) {
			vs = vs[:p.NumVersions]
		}
		return vs
	}
}

// ParseVersionPolicy parses the OVMS JSON form: {"all":{}},
// {"latest":{"num_versions":N}} or {"specific":{"versions":[...]}}.
func ParseVersionPolicy(s string) (VersionPolicy, error) {
	bad := fmt.Errorf("model version policy %q: expected {\"all\": {}}, {\"latest\": {\"num_versions\": N}} or {\"specific\": {\"versions\": [N, ...]}}", s)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || len(raw) != 1 {
		return VersionPolicy{}, bad
	}
	for k, v := range raw {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		switch k {
		case "all":
			var all struct{}
			if dec.Decode(&all) != nil {
				return VersionPolicy{}, bad
			}
			return VersionPolicy{Kind: PolicyAll}, nil
		case "latest":
			var l struct {
				NumVersions *int `json:"num_versions"`
			}
			if dec.Decode(&l) != nil || l.NumVersions == nil || *l.NumVersions < 1 {
				return VersionPolicy{}, bad
			}
			return VersionPolicy{Kind: PolicyLatest, NumVersions: *l.NumVersions}, nil
		case "specific":
			var sp struct {
				Versions []int64 `json:"versions"`
			}
			if dec.Decode(&sp) != nil || len(sp.Versions) == 0 {
				return VersionPolicy{}, bad
			}
			for _, v := range sp.Versions {
				if v < 1 {
					return VersionPolicy{}, bad
				}
			}
			return VersionPolicy{Kind: PolicySpecific, Versions: sp.Versions}, nil
		}
	}
	return VersionPolicy{}, bad
}

// ParsePluginConfig parses the --plugin_config JSON object; values may be
// strings, numbers or booleans and are kept in their string form.
func ParsePluginConfig(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("plugin config %q is not a JSON object: %w", s, err)
	}
	return PluginConfigStrings(raw)
}

// PluginConfigStrings turns decoded plugin_config values into strings.
func PluginConfigStrings(raw map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case json.Number:
			out[k] = x.String()
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, fmt.Errorf("plugin config key %q: value must be a string, number or boolean, got %v", k, v)
		}
	}
	return out, nil
}
