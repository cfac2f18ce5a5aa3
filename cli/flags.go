package cli

import (
	"math"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
)

// serveFlags are the OVMS server flags, accepted on the root command (as
// Docker's ENTRYPOINT ["ovms"] passes them) and on `ovms serve`.
//
// This list is the one source of the flags' help text and of the flags
// table in docs/configuration.md (generated from it: see flagdoc.go). To add
// a flag, add one line here (Usage in plain text, no backticks; DefaultText
// when the default is not the Value), read it in serverConfig, then run
// `go test ./cli -run TestFlagTableInDocs -update` to rewrite the table.
func serveFlags() []cli.Flag {
	d := config.DefaultServer()
	return []cli.Flag{
		&cli.StringFlag{Name: "config_path", Usage: "many models from an OVMS config.json (relative base_path values resolve against its folder); excludes the single-model flags"},
		&cli.StringFlag{Name: "model_name", Usage: "single-model mode: the servable name"},
		&cli.StringFlag{Name: "model_path", Usage: "single-model mode: the folder with numbered version folders (/models/resnet/1/model.onnx, ...), or s3://, gs://, az://, azfs:// URL"},
		&cli.IntFlag{Name: "port", Value: d.Port, Usage: "gRPC port (TF Serving and KServe v2 services); 0 disables gRPC"},
		&cli.IntFlag{Name: "rest_port", Value: d.RestPort, Usage: "HTTP port (TF Serving REST /v1/..., KServe REST /v2/...); 0 disables REST"},
		&cli.StringFlag{Name: "grpc_bind_address", Value: d.GRPCBindAddress, Usage: "gRPC listen address"},
		&cli.StringFlag{Name: "rest_bind_address", Value: d.RestBindAddress, Usage: "REST listen address"},
		&cli.IntFlag{Name: "grpc_workers", Value: d.GRPCWorkers, Usage: "accepted and validated as OVMS does; gRPC is served concurrently"},
		&cli.StringFlag{Name: "grpc_channel_arguments", Usage: "comma-separated gRPC server arguments, e.g. grpc.max_receive_message_length=4194304,grpc.max_connection_age_ms=2000 (message limits default to 1 GiB as in OVMS)"},
		&cli.IntFlag{Name: "rest_workers", Usage: "accepted and validated as OVMS does (needs --rest_port); REST is served concurrently"},
		&cli.StringFlag{Name: "log_level", Value: d.LogLevel, Usage: "TRACE, DEBUG, INFO, WARNING or ERROR"},
		&cli.StringFlag{Name: "log_path", DefaultText: "stdout", Usage: "log file"},
		&cli.IntFlag{Name: "file_system_poll_wait_seconds", Value: d.FileSystemPollWaitSeconds, Usage: "how often the config file and version folders are checked for changes, in seconds; 0 turns it off"},
		&cli.BoolFlag{Name: "metrics_enable", DefaultText: "off", Usage: "Prometheus metrics on the REST port (GET /metrics; needs --rest_port); see docs/metrics.md"},
		&cli.StringFlag{Name: "metrics_list", Usage: "comma-separated metric families to serve instead of the default set, e.g. ovms_requests_success,ovms_infer_req_queue_size (needs --metrics_enable)"},
		&cli.StringFlag{Name: "cpu_extension", Usage: "a library of custom ONNX Runtime operators, registered with every model the device plugins compile (the path must exist, as in OVMS)"},
		&cli.StringFlag{Name: "target_device", Value: "CPU", Usage: "device plugin for the model: CPU, GPU, MYRIAD, HDDL, CUDA or NVIDIA (each its own plugin process; ovms plugin list shows which are present here, docs/devices.md what each needs)"},
		&cli.StringFlag{Name: "plugin_config", Usage: `device settings as JSON, e.g. {"NUM_STREAMS": 2}: INFERENCE_NUM_THREADS (or INTRA_OP_THREADS, CPU_THREADS_NUM), INTER_OP_THREADS, NUM_STREAMS (or CPU_THROUGHPUT_STREAMS), PERFORMANCE_HINT (LATENCY, THROUGHPUT), ENABLE_CPU_PINNING, EXECUTION_MODE, GRAPH_OPTIMIZATION_LEVEL, any session.* ONNX Runtime entry; unknown keys fail the load, as in OVMS`},
		&cli.IntFlag{Name: "nireq", Usage: "inference requests of a model version in the plugin at once; more wait in line (0: the plugin's streams decide)"},
		&cli.IntFlag{Name: "nireq_timeout_ms", Value: d.NireqTimeoutMs, Usage: "ovms extension: how long a request waits for a free inference request before it fails with RESOURCE_EXHAUSTED / 503; 0 waits as long as the request lives"},
		&cli.IntFlag{Name: "model_load_timeout_seconds", Value: d.ModelLoadTimeoutSeconds, Usage: "ovms extension: a model version whose load (download, plugin start, compilation) takes longer fails (LOADING/UNKNOWN, as a failed load) and blocks nothing else; 0: no limit"},
		&cli.IntFlag{Name: "model_load_parallelism", DefaultText: "CPUs, at least 2", Usage: "ovms extension: how many model versions a device plugin compiles at once (at startup, on reload, on repository load); the core keeps twice as many loads in the plugins"},
		&cli.StringFlag{Name: "model_version_policy", DefaultText: "latest 1", Usage: `versions to serve: {"all": {}}, {"latest": {"num_versions": N}} or {"specific": {"versions": [1, 3]}}`},
		&cli.StringFlag{Name: "batch_size", Usage: "set the batch dimension (the layout's N, else the first) of every input; --shape wins; auto reloads the model with a request's batch when it differs"},
		&cli.StringFlag{Name: "shape", Usage: `reshape inputs before compiling: (1,3,224,224), or {"input": "(1,3,-1,-1)"} per input; -1 is dynamic, min:max ranges become dynamic; auto reloads the model with a request's shape when it differs`},
		&cli.StringFlag{Name: "layout", Usage: "NHWC:NCHW (requests in NHWC for an NCHW model: a Transpose is inserted) or a bare layout such as NCHW; per input as a JSON object"},
		&cli.BoolFlag{Name: "stateful", DefaultText: "off", Usage: "single-model mode: serve the model as a stateful model: requests carry sequence_id and sequence_control_input, the device plugin keeps each sequence's state (docs/stateful.md)"},
		&cli.BoolFlag{Name: "idle_sequence_cleanup", Value: true, Usage: "single-model mode: the sequence cleaner drops the stateful model's idle sequences (needs --stateful)"},
		&cli.UintFlag{Name: "max_sequence_number", Value: config.DefaultMaxSequenceNumber, Usage: "single-model mode: most sequences the stateful model keeps at once; a start beyond it fails with 503 (needs --stateful)"},
		&cli.BoolFlag{Name: "low_latency_transformation", DefaultText: "off", Usage: "single-model mode: OVMS's LowLatency transformation of a stateful model, accepted; see docs/stateful.md for what applies (needs --stateful)"},
		&cli.StringFlag{Name: "state_mapping", Usage: `ovms extension, single-model mode: state inputs of a stateful ONNX model and the outputs that feed them, e.g. {"h_in": "h_out"} (IR models map their ReadValue/Assign pairs themselves)`},
		&cli.IntFlag{Name: "sequence_cleaner_poll_wait_minutes", Value: d.SequenceCleanerPollWaitMinutes, Usage: "how often idle sequences of stateful models are dropped: a sequence with no request for a whole interval goes; 0 turns the cleaner off"},
		&cli.StringFlag{Name: "plugin_dir", DefaultText: "beside ovms", Usage: "ovms extension: folder searched first for device plugin binaries"},
		&cli.IntFlag{Name: "plugin_arena_mb", Value: d.ArenaMB, Usage: "ovms extension: shared-memory arena per device plugin, MiB (committed only as used; large gRPC answers are sent from it, a quarter of it at most at once)"},
		&cli.StringFlag{Name: "plugin_isolation", Value: d.PluginIsolation, Usage: "ovms extension: device (one plugin process per device family) or model (one per model, so a crash takes down only its model); see docs/devices.md"},
		&cli.StringFlag{Name: "dynamic_batching", DefaultText: "off", Usage: `ovms extension: gather concurrent requests into one engine call, e.g. {"max_batch_size": 16, "max_queue_delay_microseconds": 1000, "preferred_batch_size": [8, 16]}; the model needs a dynamic first dimension`},
		&cli.BoolFlag{Name: "allow_client_shm", DefaultText: "off", Usage: "ovms extension: the KServe system shared-memory extension (Triton's API): clients register /dev/shm regions and pass tensors in them, with no copy"},
		&cli.StringFlag{Name: "client_shm_allowed_uids", DefaultText: "none", Usage: "ovms extension: comma-separated uids whose /dev/shm files may be registered besides the server's own (regular files only; see docs/api.md); needs --allow_client_shm"},
		&cli.IntFlag{Name: "max_request_memory_mb", Value: d.Limits.MaxRequestMemoryMB, Usage: "ovms extension: memory one request's decoded data may take beyond its body (JSON values, strings, broadcasts), MiB; 0: no bound"},
		&cli.IntFlag{Name: "rest_read_timeout_seconds", Value: d.Limits.RestReadTimeoutSeconds, Usage: "ovms extension: time for a REST request's headers, and a body's grace before it must keep up --rest_body_min_rate_kib; 0: no read deadlines"},
		&cli.IntFlag{Name: "rest_body_min_rate_kib", Value: d.Limits.RestBodyMinRateKiB, Usage: "ovms extension: slowest rate a REST request body may arrive at after its grace, KiB/s; 0: the whole body within --rest_read_timeout_seconds"},
		&cli.IntFlag{Name: "rest_idle_timeout_seconds", Value: d.Limits.RestIdleTimeoutSeconds, Usage: "ovms extension: close REST keep-alive connections idle this long; 0: never"},
		&cli.IntFlag{Name: "grpc_max_connection_idle_seconds", Value: d.Limits.GRPCMaxConnectionIdleSeconds, Usage: "ovms extension: close gRPC connections without a call for this long (GOAWAY); 0: never; grpc.max_connection_idle_ms overrides"},
		&cli.IntFlag{Name: "grpc_keepalive_time_seconds", Value: d.Limits.GRPCKeepaliveTimeSeconds, Usage: "ovms extension: ping a quiet gRPC client after this long; 0: gRPC's 2 hours; grpc.keepalive_time_ms overrides"},
		&cli.IntFlag{Name: "grpc_keepalive_timeout_seconds", Value: d.Limits.GRPCKeepaliveTimeoutSeconds, Usage: "ovms extension: close a gRPC connection whose ping is not answered within this; 0: gRPC's 20 s; grpc.keepalive_timeout_ms overrides"},
		&cli.IntFlag{Name: "grpc_keepalive_min_time_seconds", Value: d.Limits.GRPCKeepaliveMinTimeSeconds, Usage: "ovms extension: shortest interval at which gRPC clients may ping (more often: GOAWAY too_many_pings); 0: gRPC's 5 minutes; grpc.http2.min_recv_ping_interval_without_data_ms overrides"},
		&cli.StringFlag{Name: "tls_cert", Usage: "ovms extension: PEM certificate (chain) both ports serve TLS with; needs --tls_key; reloaded when the file changes (docs/security.md)"},
		&cli.StringFlag{Name: "tls_key", Usage: "ovms extension: PEM private key of --tls_cert"},
		&cli.StringFlag{Name: "tls_client_ca", Usage: "ovms extension: PEM CA bundle; clients must present a certificate it signed (mutual TLS on both ports)"},
		&cli.StringFlag{Name: "api_key_file", Usage: "ovms extension: API keys (one a line, # comments) for inference and metadata endpoints, sent as Authorization: Bearer KEY; also control endpoints unless --control_api_key_file; health stays open; reloaded on change"},
		&cli.StringFlag{Name: "control_api_key_file", Usage: "ovms extension: API keys for control endpoints (config reload, repository load/unload, shared-memory registration); they open inference endpoints too"},
	}
}

// modelFlags are the single-model flags that conflict with --config_path.
var modelFlags = []string{"batch_size", "shape", "layout", "nireq", "model_version_policy", "target_device", "plugin_config", "dynamic_batching",
	"stateful", "idle_sequence_cleanup", "max_sequence_number", "low_latency_transformation", "state_mapping"}

// serverConfig reads the flags into a server configuration and validates
// them; errors wrap config.ErrUsage (exit 64) or are plain (exit 1).
func serverConfig(c *cli.Context) (config.Server, error) {
	s := config.DefaultServer()
	s.ConfigPath = c.String("config_path")
	s.Port = c.Int("port")
	s.RestPort = c.Int("rest_port")
	s.GRPCBindAddress = c.String("grpc_bind_address")
	s.RestBindAddress = c.String("rest_bind_address")
	s.GRPCWorkers = c.Int("grpc_workers")
	s.RestWorkers = c.Int("rest_workers")
	s.GRPCChannelArguments = c.String("grpc_channel_arguments")
	s.LogLevel = c.String("log_level")
	s.LogPath = c.String("log_path")
	s.FileSystemPollWaitSeconds = c.Int("file_system_poll_wait_seconds")
	s.SequenceCleanerPollWaitMinutes = c.Int("sequence_cleaner_poll_wait_minutes")
	s.CPUExtension = c.String("cpu_extension")
	s.MetricsEnable = c.Bool("metrics_enable")
	s.MetricsList = c.String("metrics_list")
	s.PluginDir = c.String("plugin_dir")
	s.ArenaMB = c.Int("plugin_arena_mb")
	s.AllowClientShm = c.Bool("allow_client_shm")
	s.ClientShmAllowedUIDs = c.String("client_shm_allowed_uids")
	s.NireqTimeoutMs = c.Int("nireq_timeout_ms")
	s.ModelLoadTimeoutSeconds = c.Int("model_load_timeout_seconds")
	s.ModelLoadParallelism = c.Int("model_load_parallelism")
	s.PluginIsolation = c.String("plugin_isolation")
	s.TLSCert, s.TLSKey, s.TLSClientCA = c.String("tls_cert"), c.String("tls_key"), c.String("tls_client_ca")
	s.APIKeyFile, s.ControlAPIKeyFile = c.String("api_key_file"), c.String("control_api_key_file")
	s.Limits = config.Limits{
		MaxRequestMemoryMB:           c.Int("max_request_memory_mb"),
		RestReadTimeoutSeconds:       c.Int("rest_read_timeout_seconds"),
		RestBodyMinRateKiB:           c.Int("rest_body_min_rate_kib"),
		RestIdleTimeoutSeconds:       c.Int("rest_idle_timeout_seconds"),
		GRPCMaxConnectionIdleSeconds: c.Int("grpc_max_connection_idle_seconds"),
		GRPCKeepaliveTimeSeconds:     c.Int("grpc_keepalive_time_seconds"),
		GRPCKeepaliveTimeoutSeconds:  c.Int("grpc_keepalive_timeout_seconds"),
		GRPCKeepaliveMinTimeSeconds:  c.Int("grpc_keepalive_min_time_seconds"),
	}
	m := config.DefaultModel()
	m.Name = c.String("model_name")
	m.BasePath = c.String("model_path")
	m.TargetDevice = c.String("target_device")
	m.Nireq = c.Int("nireq")
	m.BatchSize, m.Shape, m.Layout = c.String("batch_size"), c.String("shape"), c.String("layout")
	m.Stateful = c.Bool("stateful")
	m.IdleSequenceCleanup = c.Bool("idle_sequence_cleanup")
	m.LowLatencyTransformation = c.Bool("low_latency_transformation")
	s.Model = &m
	s.StatefulFlagsSet = c.IsSet("idle_sequence_cleanup") || c.IsSet("low_latency_transformation") || c.IsSet("max_sequence_number") || c.IsSet("state_mapping")
	modelSet := false
	for _, f := range modelFlags {
		modelSet = modelSet || c.IsSet(f)
	}
	if err := s.Validate(modelSet); err != nil {
		return s, err
	}
	if s.ConfigPath != "" {
		s.Model = nil
		return s, nil
	}
	var err error
	if m.PluginConfig, err = config.ParsePluginConfig(c.String("plugin_config")); err != nil {
		return s, errorf("Couldn't parse plugin config: %v", err)
	}
	if n := c.Uint("max_sequence_number"); n > math.MaxUint32 {
		return s, errorf("Sequence max number parameter too high")
	} else {
		m.MaxSequenceNumber = uint32(n)
	}
	if m.StateMapping, err = config.ParseStateMapping(c.String("state_mapping")); err != nil {
		return s, errorf("Couldn't parse state mapping: %v", err)
	}
	if m.Stateful && (m.BatchSize == "auto" || m.Shape == "auto") {
		return s, errorf("Dynamic shape and dynamic batch size are not supported for stateful models")
	}
	if d := c.String("dynamic_batching"); d != "" {
		if m.Stateful {
			return s, errorf("Couldn't parse dynamic batching: dynamic batching cannot gather the requests of stateful models")
		}
		if m.DynamicBatching, err = config.ParseDynamicBatching(d); err != nil {
			return s, errorf("Couldn't parse dynamic batching: %v", err)
		}
	}
	if p := c.String("model_version_policy"); p != "" {
		if m.VersionPolicy, err = config.ParseVersionPolicy(p); err != nil {
			return s, errorf("Couldn't parse model version policy: %v", err)
		}
	}
	return s, nil
}
