package onnxruntime

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// GraphOptimizationLevel selects ONNX Runtime's graph optimizations. The
// zero value is OptimizeAll, ONNX Runtime's ORT_ENABLE_ALL.
type GraphOptimizationLevel int

// The graph optimization levels.
const (
	OptimizeAll      GraphOptimizationLevel = iota // ORT_ENABLE_ALL (default)
	OptimizeDisable                                // ORT_DISABLE_ALL
	OptimizeBasic                                  // ORT_ENABLE_BASIC
	OptimizeExtended                               // ORT_ENABLE_EXTENDED
)

// StreamsAuto is SessionOptions.Streams when plugin_config asks for an
// automatic number of streams (NUM_STREAMS "AUTO", CPU_THROUGHPUT_STREAMS
// "CPU_THROUGHPUT_AUTO", ...).
const StreamsAuto = -1

// SessionOptions configure a session. The zero value means ONNX Runtime's
// defaults with all graph optimizations.
type SessionOptions struct {
	// IntraOpThreads is the size of the session's intra-op thread pool;
	// 0 lets ONNX Runtime choose (one per physical core).
	IntraOpThreads int
	// InterOpThreads is the size of the inter-op pool used when Parallel
	// is set; 0 lets ONNX Runtime choose.
	InterOpThreads int
	// UseGlobalThreadPools runs the session on the environment's thread
	// pools (ONNX Runtime's DisablePerSessionThreads) instead of pools of
	// its own: see SetGlobalThreadPools, which must have been called before
	// the first session, else NewSession fails. IntraOpThreads and
	// InterOpThreads must then be 0, and the per-session thread settings
	// (session.intra_op.allow_spinning, session.intra_op_thread_affinities,
	// session.force_spinning_stop) have no effect.
	UseGlobalThreadPools bool
	// UseEnvAllocators makes the session allocate CPU memory from the arena
	// registered with the environment (RegisterSharedCPUArena, which must
	// have succeeded, else NewSession fails) instead of an arena of its
	// own: session.use_env_allocators=1.
	UseEnvAllocators bool
	// PrepackedWeights, when set, is the container the session's prepacked
	// weights go to and are taken from (ONNX Runtime's
	// CreateSessionFromArrayWithPrepackedWeightsContainer): sessions of the
	// same model created with one container share them. It must outlive
	// the session.
	PrepackedWeights *PrepackedWeights
	// Parallel selects ORT_PARALLEL execution mode (independent nodes run
	// concurrently) instead of ORT_SEQUENTIAL.
	Parallel bool
	// GraphOptimization is the graph optimization level.
	GraphOptimization GraphOptimizationLevel
	// ConfigEntries are passed to AddSessionConfigEntry (keys such as
	// "session.intra_op.allow_spinning").
	ConfigEntries map[string]string

	// Streams is the number of parallel inference streams plugin_config
	// asked for (0: not set, StreamsAuto: automatic). NewSession ignores it:
	// the device plugin runs that many requests at once, sharing the threads.
	Streams int
	// CUDA appends ONNX Runtime's CUDA execution provider (default device
	// 0) ahead of the CPU one. It needs the provider library beside
	// libonnxruntime.so.1; NewSession fails with ORT's reason without it.
	CUDA bool
	// CustomOpLibraries are shared libraries of custom operators
	// registered with every session (OVMS's --cpu_extension).
	CustomOpLibraries []string
	// CPUPinning is plugin_config's ENABLE_CPU_PINNING: each stream's pool
	// threads are pinned to their own cores. NewSession ignores it; the
	// device plugin turns it into thread affinities per stream.
	CPUPinning bool
	// PerformanceHint is plugin_config's PERFORMANCE_HINT, "LATENCY",
	// "THROUGHPUT" or "" when not set. NewSession ignores it; the device
	// plugin uses it to size streams and threads.
	PerformanceHint string
	// ExternalFiles are files held in memory that the model's initializers
	// with external data name as their location (ONNX Runtime's
	// AddExternalInitializersFromFilesInMemory): the weights reach the
	// engine straight from these bytes, which ONNX Runtime copies while
	// NewSession runs and never keeps. Needs ONNX Runtime 1.18 or later.
	ExternalFiles []ExternalFile
	// Initializers replace the model's initializers of the same names, in
	// its subgraphs too (ONNX Runtime's AddInitializer, which checks
	// neither their shapes nor their contents): the session reads their
	// memory in place instead of a copy of its own, so sessions given the
	// same Values share the weights, and with one PrepackedWeights
	// container their prepacked forms too. The Values must outlive the
	// sessions.
	Initializers []Initializer
}

// Initializer is a tensor that replaces the model's initializer Name.
type Initializer struct {
	Name  string
	Value *Value
}

// ExternalFile is a file of external initializer data held in memory:
// Name is the location the model's tensors give, Data its contents.
type ExternalFile struct {
	Name string
	Data []byte
}

// plugin_config keys, as OVMS (OpenVINO) spells them, plus ONNX Runtime ones.
var (
	intraKeys    = []string{"INTRA_OP_THREADS", "INFERENCE_NUM_THREADS", "CPU_THREADS_NUM"}
	streamKeys   = []string{"CPU_THROUGHPUT_STREAMS", "NUM_STREAMS"}
	otherKeys    = []string{"INTER_OP_THREADS", "PERFORMANCE_HINT", "EXECUTION_MODE", "GRAPH_OPTIMIZATION_LEVEL", "ENABLE_CPU_PINNING"}
	configPrefix = "session."
	autoStreams  = []string{"AUTO", "NUMA", "CPU_THROUGHPUT_AUTO", "CPU_THROUGHPUT_NUMA"}
	optLevels    = map[string]GraphOptimizationLevel{
		"DISABLE_ALL": OptimizeDisable, "ENABLE_BASIC": OptimizeBasic,
		"ENABLE_EXTENDED": OptimizeExtended, "ENABLE_ALL": OptimizeAll,
	}
)

// AcceptedPluginConfigKeys returns the plugin_config keys
// ParseSessionOptions accepts, sorted; keys starting with "session." are
// accepted too and become ConfigEntries.
func AcceptedPluginConfigKeys() []string {
	keys := slices.Concat(intraKeys, streamKeys, otherKeys)
	slices.Sort(keys)
	return keys
}

// ParseSessionOptions maps an OVMS plugin_config to session options:
//
//	INTRA_OP_THREADS, INFERENCE_NUM_THREADS, CPU_THREADS_NUM  IntraOpThreads (>= 0)
//	INTER_OP_THREADS                                          InterOpThreads (>= 0)
//	CPU_THROUGHPUT_STREAMS, NUM_STREAMS                       Streams (>= 1, or AUTO, NUMA,
//	                                                          CPU_THROUGHPUT_AUTO, CPU_THROUGHPUT_NUMA)
//	PERFORMANCE_HINT                                          PerformanceHint (LATENCY or THROUGHPUT)
//	EXECUTION_MODE                                            Parallel (SEQUENTIAL or PARALLEL)
//	GRAPH_OPTIMIZATION_LEVEL                                  DISABLE_ALL, ENABLE_BASIC, ENABLE_EXTENDED, ENABLE_ALL
//	session.*                                                 ConfigEntries, verbatim
//
// As in OVMS, any other key is an error, which names the key and lists the
// accepted ones. Bad values name the key and the value. Keys that set the
// same option must agree.
func ParseSessionOptions(pluginConfig map[string]string) (SessionOptions, error) {
	var o SessionOptions
	keys := make([]string, 0, len(pluginConfig))
	for k := range pluginConfig {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	intraFrom, streamsFrom := "", ""
	for _, k := range keys {
		v := strings.TrimSpace(pluginConfig[k])
		bad := func(want string) error {
			return fmt.Errorf("onnxruntime: plugin_config %s=%q: want %s", k, pluginConfig[k], want)
		}
		switch {
		case slices.Contains(intraKeys, k):
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return SessionOptions{}, bad("a non-negative integer")
			}
			if intraFrom != "" && n != o.IntraOpThreads {
				return SessionOptions{}, fmt.Errorf("onnxruntime: plugin_config %s=%q conflicts with %s=%q",
					k, pluginConfig[k], intraFrom, pluginConfig[intraFrom])
			}
			o.IntraOpThreads, intraFrom = n, k
		case k == "INTER_OP_THREADS":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return SessionOptions{}, bad("a non-negative integer")
			}
			o.InterOpThreads = n
		case slices.Contains(streamKeys, k):
			n := StreamsAuto
			if !slices.Contains(autoStreams, strings.ToUpper(v)) {
				var err error
				if n, err = strconv.Atoi(v); err != nil || n < 1 {
					return SessionOptions{}, bad("a positive integer or one of " + strings.Join(autoStreams, ", "))
				}
			}
			if streamsFrom != "" && n != o.Streams {
				return SessionOptions{}, fmt.Errorf("onnxruntime: plugin_config %s=%q conflicts with %s=%q",
					k, pluginConfig[k], streamsFrom, pluginConfig[streamsFrom])
			}
			o.Streams, streamsFrom = n, k
		case k == "PERFORMANCE_HINT":
			if v != "LATENCY" && v != "THROUGHPUT" {
				return SessionOptions{}, bad("LATENCY or THROUGHPUT")
			}
			o.PerformanceHint = v
		case k == "ENABLE_CPU_PINNING":
			switch strings.ToUpper(v) {
			case "TRUE", "YES":
				o.CPUPinning = true
			case "FALSE", "NO":
			default:
				return SessionOptions{}, bad("true or false")
			}
		case k == "EXECUTION_MODE":
			if v != "SEQUENTIAL" && v != "PARALLEL" {
				return SessionOptions{}, bad("SEQUENTIAL or PARALLEL")
			}
			o.Parallel = v == "PARALLEL"
		case k == "GRAPH_OPTIMIZATION_LEVEL":
			l, ok := optLevels[v]
			if !ok {
				return SessionOptions{}, bad("DISABLE_ALL, ENABLE_BASIC, ENABLE_EXTENDED or ENABLE_ALL")
			}
			o.GraphOptimization = l
		case strings.HasPrefix(k, configPrefix) && len(k) > len(configPrefix):
			if o.ConfigEntries == nil {
				o.ConfigEntries = map[string]string{}
			}
			o.ConfigEntries[k] = pluginConfig[k]
		default:
			return SessionOptions{}, fmt.Errorf("onnxruntime: unsupported plugin_config key %q (accepted: %s, and ONNX Runtime session config keys starting with %q)",
				k, strings.Join(AcceptedPluginConfigKeys(), ", "), configPrefix)
		}
	}
	return o, nil
}
