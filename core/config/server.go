package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Server is the process-wide configuration (the OVMS server flags).
type Server struct {
	// Port is the gRPC port; 0 disables gRPC.
	Port int
	// RestPort is the HTTP port; 0 disables REST.
	RestPort int
	// GRPCBindAddress is the gRPC listen address.
	GRPCBindAddress string
	// RestBindAddress is the REST listen address.
	RestBindAddress string
	// GRPCWorkers is accepted for compatibility (Go serves gRPC concurrently).
	GRPCWorkers int
	// RestWorkers is accepted for compatibility; 0 = unset.
	RestWorkers int
	// LogLevel is one of TRACE, DEBUG, INFO, WARNING, ERROR.
	LogLevel string
	// LogPath, when set, is the log file.
	LogPath string
	// MetricsEnable is --metrics_enable: Prometheus metrics on the REST
	// port (GET /metrics).
	MetricsEnable bool
	// MetricsList is --metrics_list as given: comma-separated metric
	// families (see core/metrics); "" serves the default set.
	MetricsList string
	// SequenceCleanerPollWaitMinutes is how often the sequence cleaner
	// drops the idle sequences of stateful models; 0 turns it off.
	SequenceCleanerPollWaitMinutes int
	// ConfigPath is the config.json of multi-model mode.
	ConfigPath string
	// FileSystemPollWaitSeconds is the config/version polling period.
	FileSystemPollWaitSeconds int
	// CPUExtension is accepted for compatibility; it must exist if set.
	CPUExtension string
	// PluginDir is where device plugin binaries are looked up first.
	PluginDir string
	// ArenaMB is the size of each device plugin's shared-memory arena.
	ArenaMB int
	// AllowClientShm turns on the KServe system shared-memory extension.
	AllowClientShm bool
	// ClientShmAllowedUIDs is --client_shm_allowed_uids as given: a comma
	// list of uids whose /dev/shm files clients may register besides the
	// server's own; Validate parses it into ClientShmUIDs.
	ClientShmAllowedUIDs string
	// ClientShmUIDs are the parsed ClientShmAllowedUIDs.
	ClientShmUIDs []uint32
	// NireqTimeoutMs bounds how long a request waits for one of a model
	// version's nireq inference slots (an ovms extension; 0 waits as long
	// as the request lives).
	NireqTimeoutMs int
	// ModelLoadTimeoutSeconds bounds the load of one model version (an
	// ovms extension; 0: no bound).
	ModelLoadTimeoutSeconds int
	// ModelLoadParallelism is how many model versions a device plugin
	// compiles at once, the core keeping twice as many loads in flight (an
	// ovms extension; 0: the model manager's default).
	ModelLoadParallelism int
	// PluginIsolation is how models share device plugin processes (an ovms
	// extension): "device", one process per device family, or "model", one
	// per model, so that a crash takes down only the model that caused it.
	PluginIsolation string
	// GRPCChannelArguments is --grpc_channel_arguments as given; Validate
	// parses it into GRPC.
	GRPCChannelArguments string
	// GRPC holds the gRPC server settings (message limits, keepalive).
	GRPC GRPCArgs
	// Limits bound what one request and one connection may hold (ovms
	// extensions: request memory, REST timeouts, gRPC keepalive).
	Limits Limits
	// TLSCert and TLSKey are PEM files of the certificate (chain) and
	// private key both ports serve TLS with (an ovms extension; "": plain
	// TCP). TLSClientCA, when set, is a PEM bundle of the CAs that client
	// certificates must chain to: mutual TLS. docs/security.md.
	TLSCert, TLSKey, TLSClientCA string
	// APIKeyFile holds the API keys of inference and metadata endpoints,
	// ControlAPIKeyFile those of control endpoints (an ovms extension; ""
	// for none). docs/security.md.
	APIKeyFile, ControlAPIKeyFile string
	// StatefulFlagsSet is set by the CLI when --idle_sequence_cleanup,
	// --low_latency_transformation or --max_sequence_number was given:
	// they need --stateful.
	StatefulFlagsSet bool
	// Model is the single model of single-model mode.
	Model *Model
}

// DefaultServer returns the OVMS v2026.2 defaults.
func DefaultServer() Server {
	return Server{
		GRPCBindAddress:                "0.0.0.0",
		RestBindAddress:                "0.0.0.0",
		GRPCWorkers:                    1,
		LogLevel:                       "INFO",
		FileSystemPollWaitSeconds:      1,
		SequenceCleanerPollWaitMinutes: 5,
		ArenaMB:                        1024,
		NireqTimeoutMs:                 10000,
		ModelLoadTimeoutSeconds:        DefaultModelLoadTimeoutSeconds,
		PluginIsolation:                "device",
		GRPC:                           GRPCArgs{MaxRecvBytes: DefaultMaxMessageBytes, MaxSendBytes: DefaultMaxMessageBytes},
		Limits:                         DefaultLimits(),
	}
}

// DefaultModelLoadTimeoutSeconds is --model_load_timeout_seconds's
// default: generous, as large models take long to download and compile.
const DefaultModelLoadTimeoutSeconds = 600

// ErrUsage marks command-line errors; the CLI exits with code 64 on them.
var ErrUsage = errors.New("usage error")

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// UsageMessage strips the ErrUsage prefix to give the bare OVMS message.
func UsageMessage(err error) string {
	return strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")
}

// Validate checks the server flags in the order OVMS does and returns
// an ErrUsage error carrying OVMS's message. modelFlagsSet reports whether
// any single-model flag (other than name/path) was given.
func (s *Server) Validate(modelFlagsSet bool) error {
	name, path := "", ""
	if s.Model != nil {
		name, path = s.Model.Name, s.Model.BasePath
	}
	switch {
	case s.ConfigPath != "" && (name != "" || path != ""):
		return usage("Use either config_path or model_path with model_name")
	case s.ConfigPath == "" && (name == "" || path == ""):
		return usage("Use config_path or model_path with model_name")
	case s.ConfigPath != "" && modelFlagsSet:
		return usage("Model parameters in CLI are exclusive with the config file")
	}
	if s.StatefulFlagsSet && (s.Model == nil || !s.Model.Stateful) {
		return usage("Setting low_latency_transformation, max_sequence_number and idle_sequence_cleanup require setting stateful flag for the model.")
	}
	if s.GRPCWorkers < 1 || s.GRPCWorkers > runtime.NumCPU() {
		return usage("grpc_workers count should be from 1 to CPU core count : %d", runtime.NumCPU())
	}
	if s.Port == 0 && s.RestPort == 0 {
		return usage("port and rest_port cannot both be unset")
	}
	if s.RestWorkers != 0 {
		if s.RestWorkers < 2 || s.RestWorkers > 10000 {
			return usage("rest_workers count should be from 2 to 10000")
		}
		if s.RestPort == 0 {
			return usage("rest_workers is set but rest_port is not set. rest_port is required to start rest servers")
		}
	}
	if s.Port < 0 || s.Port > 65535 {
		return usage("port number out of range from 0 to 65535")
	}
	if s.RestPort < 0 || s.RestPort > 65535 {
		return usage("rest_port number out of range from 0 to 65535")
	}
	if s.MetricsEnable && s.RestPort == 0 {
		return usage("rest_port setting is missing, metrics are enabled on rest port")
	}
	if !s.MetricsEnable && s.MetricsList != "" {
		return usage("metrics_enable setting is missing, required when metrics_list is provided")
	}
	if !validBindAddress(s.RestBindAddress) {
		return usage("rest_bind_address has invalid format: proper hostname or IP address expected.")
	}
	if !validBindAddress(s.GRPCBindAddress) {
		return usage("grpc_bind_address has invalid format: proper hostname or IP address expected.")
	}
	if s.Port != 0 && s.Port == s.RestPort {
		return usage("port and rest_port cannot have the same values")
	}
	if s.CPUExtension != "" {
		if _, err := os.Stat(s.CPUExtension); err != nil {
			return usage("File path provided as an --cpu_extension parameter does not exist in the filesystem: %s", s.CPUExtension)
		}
	}
	args, err := ParseGRPCArgs(s.GRPCChannelArguments)
	if err != nil {
		return err
	}
	if err := s.Limits.Validate(); err != nil {
		return err
	}
	s.GRPC = s.Limits.applyGRPC(args)
	switch s.LogLevel {
	case "TRACE", "DEBUG", "INFO", "WARNING", "ERROR":
	default:
		return usage("log_level should be one of: TRACE, DEBUG, INFO, WARNING, ERROR")
	}
	if s.ArenaMB < 1 {
		return usage("plugin_arena_mb should be at least 1")
	}
	if s.ModelLoadTimeoutSeconds < 0 {
		return usage("model_load_timeout_seconds should be 0 (no limit) or more")
	}
	if s.ModelLoadParallelism < 0 || s.ModelLoadParallelism > 1024 {
		return usage("model_load_parallelism should be from 0 (the default) to 1024")
	}
	uids, err := parseUIDs(s.ClientShmAllowedUIDs)
	if err != nil {
		return err
	}
	if len(uids) > 0 && !s.AllowClientShm {
		return usage("client_shm_allowed_uids needs allow_client_shm")
	}
	s.ClientShmUIDs = uids
	switch s.PluginIsolation {
	case "device", "model":
	default:
		return usage("plugin_isolation should be device or model")
	}
	return s.validateSecurity()
}

// validateSecurity checks that the TLS flags come together.
func (s *Server) validateSecurity() error {
	switch {
	case (s.TLSCert == "") != (s.TLSKey == ""):
		return usage("tls_cert and tls_key must be given together")
	case s.TLSClientCA != "" && s.TLSCert == "":
		return usage("tls_client_ca needs tls_cert and tls_key")
	}
	return nil
}

// parseUIDs reads a comma list of numeric uids ("" is none).
func parseUIDs(list string) ([]uint32, error) {
	var uids []uint32
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" && strings.TrimSpace(list) == "" {
			continue
		}
		u, err := strconv.ParseUint(f, 10, 32)
		if err != nil || u == 1<<32-1 {
			return nil, usage("client_shm_allowed_uids should be a comma-separated list of numeric uids, got %q", list)
		}
		uids = append(uids, uint32(u))
	}
	return uids, nil
}

// validBindAddress accepts IPs and host names (RFC 1123 labels).
func validBindAddress(a string) bool {
	if net.ParseIP(a) != nil {
		return true
	}
	if a == "" || len(a) > 253 {
		return false
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}
