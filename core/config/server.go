package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
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
	// NireqTimeoutMs bounds how long a request waits for one of a model
	// version's nireq inference slots (an ovms extension; 0 waits as long
	// as the request lives).
	NireqTimeoutMs int
	// GRPCChannelArguments is --grpc_channel_arguments as given; Validate
	// parses it into GRPC.
	GRPCChannelArguments string
	// GRPC holds the gRPC server settings (message limits, keepalive).
	GRPC GRPCArgs
	// Limits bound what one request and one connection may hold (ovms
	// extensions: request memory, REST timeouts, gRPC keepalive).
	Limits Limits
	// Model is the single model of single-model mode.
	Model *Model
}

// DefaultServer returns the OVMS v2026.2 defaults.
func DefaultServer() Server {
	return Server{
		GRPCBindAddress:           "0.0.0.0",
		RestBindAddress:           "0.0.0.0",
		GRPCWorkers:               1,
		LogLevel:                  "INFO",
		FileSystemPollWaitSeconds: 1,
		ArenaMB:                   1024,
		NireqTimeoutMs:            10000,
		GRPC:                      GRPCArgs{MaxRecvBytes: DefaultMaxMessageBytes, MaxSendBytes: DefaultMaxMessageBytes},
		Limits:                    DefaultLimits(),
	}
}

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
	return nil
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
