package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
)

// serveFlags are the OVMS server flags, accepted on the root command (as
// Docker's ENTRYPOINT ["ovms"] passes them) and on `ovms serve`.
func serveFlags() []cli.Flag {
	d := config.DefaultServer()
	return []cli.Flag{
		&cli.StringFlag{Name: "config_path", Usage: "absolute path to json configuration file"},
		&cli.StringFlag{Name: "model_name", Usage: "name of the model (single-model mode)"},
		&cli.StringFlag{Name: "model_path", Usage: "folder with numbered version directories (single-model mode)"},
		&cli.IntFlag{Name: "port", Value: d.Port, Usage: "gRPC server port; 0 disables gRPC"},
		&cli.IntFlag{Name: "rest_port", Value: d.RestPort, Usage: "REST server port; 0 disables REST"},
		&cli.StringFlag{Name: "grpc_bind_address", Value: d.GRPCBindAddress, Usage: "gRPC listen address"},
		&cli.StringFlag{Name: "rest_bind_address", Value: d.RestBindAddress, Usage: "REST listen address"},
		&cli.IntFlag{Name: "grpc_workers", Value: d.GRPCWorkers, Usage: "accepted for compatibility; gRPC is served concurrently"},
		&cli.StringFlag{Name: "grpc_channel_arguments", Usage: "comma-separated gRPC server arguments, e.g. grpc.max_receive_message_length=4194304,grpc.max_connection_age_ms=2000"},
		&cli.IntFlag{Name: "rest_workers", Usage: "accepted for compatibility; REST is served concurrently"},
		&cli.StringFlag{Name: "log_level", Value: d.LogLevel, Usage: "TRACE, DEBUG, INFO, WARNING or ERROR"},
		&cli.StringFlag{Name: "log_path", Usage: "log file (default: stdout)"},
		&cli.IntFlag{Name: "file_system_poll_wait_seconds", Value: d.FileSystemPollWaitSeconds, Usage: "config and version polling period; 0 disables"},
		&cli.StringFlag{Name: "cpu_extension", Usage: "accepted for compatibility; the file must exist"},
		&cli.StringFlag{Name: "target_device", Value: "CPU", Usage: "device of the model: CPU, GPU, ..."},
		&cli.StringFlag{Name: "plugin_config", Usage: `device settings as JSON, e.g. {"NUM_STREAMS": "2"}`},
		&cli.IntFlag{Name: "nireq", Usage: "size of the inference request pool; 0 lets the device decide"},
		&cli.IntFlag{Name: "nireq_timeout_ms", Value: d.NireqTimeoutMs, Usage: "ovms extension: how long a request waits for one of the nireq slots of its model version before it fails (0: as long as the request lives)"},
		&cli.StringFlag{Name: "model_version_policy", Usage: `e.g. {"latest": {"num_versions": 2}}`},
		&cli.StringFlag{Name: "batch_size", Usage: "model batch size (not supported yet)"},
		&cli.StringFlag{Name: "shape", Usage: "model input shape (not supported yet)"},
		&cli.StringFlag{Name: "layout", Usage: "model input layout (not supported yet)"},
		&cli.StringFlag{Name: "plugin_dir", Usage: "ovms extension: folder searched first for device plugin binaries"},
		&cli.IntFlag{Name: "plugin_arena_mb", Value: d.ArenaMB, Usage: "ovms extension: shared-memory arena per device plugin, MiB"},
		&cli.StringFlag{Name: "dynamic_batching", Usage: `ovms extension: batch concurrent requests, e.g. {"max_batch_size": 16, "max_queue_delay_microseconds": 1000}`},
		&cli.BoolFlag{Name: "allow_client_shm", Usage: "ovms extension: let clients pass tensors in /dev/shm regions (KServe system shared-memory extension)"},
		&cli.IntFlag{Name: "max_request_memory_mb", Value: d.Limits.MaxRequestMemoryMB, Usage: "ovms extension: memory one request's decoded data may take beyond its body (JSON values, strings, broadcasts), MiB; 0: no bound"},
		&cli.IntFlag{Name: "rest_read_timeout_seconds", Value: d.Limits.RestReadTimeoutSeconds, Usage: "ovms extension: time for a REST request's headers, and a body's grace before it must keep up --rest_body_min_rate_kib; 0: no read deadlines"},
		&cli.IntFlag{Name: "rest_body_min_rate_kib", Value: d.Limits.RestBodyMinRateKiB, Usage: "ovms extension: slowest rate a REST request body may arrive at after its grace, KiB/s; 0: the whole body within --rest_read_timeout_seconds"},
		&cli.IntFlag{Name: "rest_idle_timeout_seconds", Value: d.Limits.RestIdleTimeoutSeconds, Usage: "ovms extension: close REST keep-alive connections idle this long; 0: never"},
		&cli.IntFlag{Name: "grpc_max_connection_idle_seconds", Value: d.Limits.GRPCMaxConnectionIdleSeconds, Usage: "ovms extension: close gRPC connections without a call for this long (GOAWAY); 0: never; grpc.max_connection_idle_ms overrides"},
		&cli.IntFlag{Name: "grpc_keepalive_time_seconds", Value: d.Limits.GRPCKeepaliveTimeSeconds, Usage: "ovms extension: ping a quiet gRPC client after this long; 0: gRPC's 2 hours; grpc.keepalive_time_ms overrides"},
		&cli.IntFlag{Name: "grpc_keepalive_timeout_seconds", Value: d.Limits.GRPCKeepaliveTimeoutSeconds, Usage: "ovms extension: close a gRPC connection whose ping is not answered within this; 0: gRPC's 20 s; grpc.keepalive_timeout_ms overrides"},
		&cli.IntFlag{Name: "grpc_keepalive_min_time_seconds", Value: d.Limits.GRPCKeepaliveMinTimeSeconds, Usage: "ovms extension: shortest interval at which gRPC clients may ping (more often: GOAWAY too_many_pings); 0: gRPC's 5 minutes; grpc.http2.min_recv_ping_interval_without_data_ms overrides"},
	}
}

// modelFlags are the single-model flags that conflict with --config_path.
var modelFlags = []string{"batch_size", "shape", "layout", "nireq", "model_version_policy", "target_device", "plugin_config", "dynamic_batching"}

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
	s.CPUExtension = c.String("cpu_extension")
	s.PluginDir = c.String("plugin_dir")
	s.ArenaMB = c.Int("plugin_arena_mb")
	s.AllowClientShm = c.Bool("allow_client_shm")
	s.NireqTimeoutMs = c.Int("nireq_timeout_ms")
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
	s.Model = &m
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
	if d := c.String("dynamic_batching"); d != "" {
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
