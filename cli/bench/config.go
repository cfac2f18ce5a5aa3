package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Protocol is an API surface to send requests over.
type Protocol string

// The protocols Run speaks.
const (
	KServeGRPC       Protocol = "kserve-grpc"        // inference.GRPCInferenceService/ModelInfer, raw_input_contents
	KServeREST       Protocol = "kserve-rest"        // POST /v2/models/{m}/infer, JSON data
	KServeRESTBinary Protocol = "kserve-rest-binary" // the same with the binary tensor extension
	TFSGRPC          Protocol = "tfs-grpc"           // PredictionService/Predict, tensor_content
	TFSREST          Protocol = "tfs-rest"           // POST /v1/models/{m}:predict, column format
)

// Protocols lists every protocol, in the order the docs present them.
var Protocols = []Protocol{KServeGRPC, KServeREST, KServeRESTBinary, TFSGRPC, TFSREST}

// GRPC reports whether p is served over gRPC.
func (p Protocol) GRPC() bool { return p == KServeGRPC || p == TFSGRPC }

// KServe reports whether p is a KServe v2 protocol.
func (p Protocol) KServe() bool { return p == KServeGRPC || p == KServeREST || p == KServeRESTBinary }

// Schedule is how an open loop spaces its sends.
type Schedule string

// The schedules of request-rate mode.
const (
	Poisson  Schedule = "poisson"  // exponential gaps, the arrivals of independent clients
	Constant Schedule = "constant" // equal gaps
)

// Defaults of the measurement settings.
const (
	DefaultWarmup = 2 * time.Second
	DefaultWindow = 2 * time.Second
)

// Shared-memory modes.
const (
	SharedMemoryNone   = "none"
	SharedMemorySystem = "system"
)

// Config describes one benchmark run. The zero value of a field means its
// default (see the field comments).
type Config struct {
	// Protocol to use; default KServeGRPC.
	Protocol Protocol
	// URL of the server: host:port for gRPC (default localhost:9000),
	// http://host:port for REST (default http://localhost:8000).
	URL string
	// Model is the model name (required); Version 0 means the default version.
	Model   string
	Version int64
	// Shapes fills dynamic (-1) input dimensions, by input name; dims not
	// given are 1.
	Shapes map[string][]int64
	// InputData is "random" (default), "zero", a JSON file ({"name":
	// [values]}, nested or flat), or raw little-endian files as
	// "name=path[,name=path]" (a bare path for a one-input model).
	InputData string
	// Seed seeds random inputs and the Poisson schedule; default 1.
	Seed int64
	// StringLength is the length of random BYTES elements; default 16.
	StringLength int

	// Concurrency lists the closed-loop levels; default [1]. Ignored when
	// RequestRates is set.
	Concurrency []int
	// RequestRates lists open-loop levels in requests per second.
	RequestRates []float64
	// Schedule spaces open-loop sends; default Poisson.
	Schedule Schedule
	// MaxThreads is the number of open-loop workers; default 64.
	MaxThreads int

	// Warmup runs before the first level and is not measured; default 2s
	// (negative: none).
	Warmup time.Duration
	// Window is the length of a measurement window; default 2s.
	Window time.Duration
	// Stability is the allowed spread, in percent, of the last three
	// windows' throughput and p50 around their mean; default 10.
	Stability float64
	// MaxTrials is the most windows per level; default 10 (at least 3).
	MaxTrials int

	// SharedMemory is SharedMemoryNone (default) or SharedMemorySystem
	// (KServe protocols only).
	SharedMemory string
	// GRPCConnections is the number of gRPC connections requests are spread
	// over; default 1.
	GRPCConnections int

	// Progress, when set, receives a redrawn status line (a terminal).
	Progress io.Writer
}

// withDefaults returns c with every default filled in, or an error for
// values that cannot work.
func (c Config) withDefaults() (Config, error) {
	c, err := c.loadDefaults()
	if err != nil {
		return c, err
	}
	if c.Protocol == "" {
		c.Protocol = KServeGRPC
	}
	if !slices.Contains(Protocols, c.Protocol) {
		return c, fmt.Errorf("unknown protocol %q (want one of %s)", c.Protocol, joinProtocols())
	}
	if c.Model == "" {
		return c, errors.New("no model name given")
	}
	if c.URL == "" {
		c.URL = "localhost:9000"
		if !c.Protocol.GRPC() {
			c.URL = "http://localhost:8000"
		}
	}
	if !c.Protocol.GRPC() && !strings.Contains(c.URL, "://") {
		c.URL = "http://" + c.URL
	}
	c.URL = strings.TrimRight(c.URL, "/")
	c.InputData = cmpOr(c.InputData, "random")
	c.StringLength = cmpOr(c.StringLength, 16)
	c.SharedMemory = cmpOr(c.SharedMemory, SharedMemoryNone)
	c.GRPCConnections = max(c.GRPCConnections, 1)
	switch c.SharedMemory {
	case SharedMemoryNone:
	case SharedMemorySystem:
		if !c.Protocol.KServe() {
			return c, fmt.Errorf("shared memory needs a KServe protocol, not %s", c.Protocol)
		}
	default:
		return c, fmt.Errorf("unknown shared memory mode %q (want none or system)", c.SharedMemory)
	}
	return c, nil
}

// loadDefaults fills in the load and measurement fields, the ones Measure
// uses.
func (c Config) loadDefaults() (Config, error) {
	c.Seed = cmpOr(c.Seed, 1)
	c.Schedule = cmpOr(c.Schedule, Poisson)
	if c.Schedule != Poisson && c.Schedule != Constant {
		return c, fmt.Errorf("unknown schedule %q (want poisson or constant)", c.Schedule)
	}
	c.MaxThreads = cmpOr(c.MaxThreads, 64)
	c.Warmup = cmpOr(c.Warmup, DefaultWarmup)
	c.Window = cmpOr(c.Window, DefaultWindow)
	c.Stability = cmpOr(c.Stability, 10)
	c.MaxTrials = max(cmpOr(c.MaxTrials, 10), StableWindows)
	if len(c.RequestRates) == 0 && len(c.Concurrency) == 0 {
		c.Concurrency = []int{1}
	}
	for _, n := range c.Concurrency {
		if n < 1 {
			return c, fmt.Errorf("concurrency %d: want at least 1", n)
		}
	}
	for _, r := range c.RequestRates {
		if !(r > 0) || math.IsInf(r, 0) {
			return c, fmt.Errorf("request rate %v: want a positive number", r)
		}
	}
	if c.MaxThreads < 1 || c.Window <= 0 || c.Stability <= 0 {
		return c, errors.New("max threads, window and stability must be positive")
	}
	return c, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func joinProtocols() string {
	s := make([]string, len(Protocols))
	for i, p := range Protocols {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// ParseRange parses a level list as perf_analyzer writes it: "start:end"
// or "start:end:step" (linear, end included when reached; step default 1)
// or a comma-separated list "1,2,4,8".
func ParseRange(s string) ([]float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty range")
	}
	if !strings.Contains(s, ":") {
		var out []float64
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || v <= 0 || math.IsInf(v, 0) {
				return nil, fmt.Errorf("range %q: %q is not a positive number", s, f)
			}
			out = append(out, v)
		}
		return out, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return nil, fmt.Errorf("range %q: want start:end[:step]", s)
	}
	nums := []float64{0, 0, 1}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) {
			return nil, fmt.Errorf("range %q: %q is not a positive number", s, p)
		}
		nums[i] = v
	}
	start, end, step := nums[0], nums[1], nums[2]
	if end < start {
		return nil, fmt.Errorf("range %q: end below start", s)
	}
	if (end-start)/step > 10000 {
		return nil, fmt.Errorf("range %q: more than 10000 levels", s)
	}
	var out []float64
	for i := 0; ; i++ {
		v := start + float64(i)*step
		if v > end*(1+1e-9) {
			return out, nil
		}
		out = append(out, v)
	}
}

// ParseConcurrency is ParseRange for whole numbers of workers.
func ParseConcurrency(s string) ([]int, error) {
	vals, err := ParseRange(s)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(vals))
	for i, v := range vals {
		if v != math.Trunc(v) {
			return nil, fmt.Errorf("concurrency %q: %v is not a whole number", s, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

// ParseShape parses "name:1,3,224,224" (perf_analyzer's --shape) into the
// input name and its dims.
func ParseShape(s string) (string, []int64, error) {
	name, dims, ok := strings.Cut(s, ":")
	i := strings.LastIndex(s, ":")
	if i > 0 { // names may hold ':' (e.g. "copy:0"); dims never do
		name, dims, ok = s[:i], s[i+1:], true
	}
	if !ok || name == "" || dims == "" {
		return "", nil, fmt.Errorf("shape %q: want name:d1,d2,...", s)
	}
	var out []int64
	for _, d := range strings.Split(dims, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
		if err != nil || v < 0 {
			return "", nil, fmt.Errorf("shape %q: %q is not a dimension", s, d)
		}
		out = append(out, v)
	}
	return name, out, nil
}
