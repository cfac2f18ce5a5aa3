package config

import (
	"fmt"
	"strconv"
	"strings"
)

// GRPCArgs are the gRPC server settings --grpc_channel_arguments can
// change, with OVMS's defaults.
type GRPCArgs struct {
	// MaxRecvBytes and MaxSendBytes bound one message (default 1 GiB).
	MaxRecvBytes, MaxSendBytes int
	// MaxConcurrentStreams bounds the streams of one connection; 0 is
	// gRPC's default (unbounded).
	MaxConcurrentStreams uint32
	// MaxConnectionAgeMs, MaxConnectionAgeGraceMs, MaxConnectionIdleMs,
	// KeepaliveTimeMs and KeepaliveTimeoutMs are gRPC keepalive settings
	// in milliseconds; 0 leaves gRPC's default.
	MaxConnectionAgeMs, MaxConnectionAgeGraceMs, MaxConnectionIdleMs int64
	KeepaliveTimeMs, KeepaliveTimeoutMs                              int64
	// KeepaliveMinTimeMs is the shortest interval at which clients may
	// ping (keepalive enforcement; 0 leaves gRPC's default of 5 minutes).
	KeepaliveMinTimeMs int64
	// PermitWithoutCalls allows client pings on connections without
	// active calls (nil: gRPC's default, not allowed).
	PermitWithoutCalls *bool
	// Ignored lists the arguments that were recognised as gRPC core
	// arguments but have no effect here (for a warning).
	Ignored []string
}

// DefaultMaxMessageBytes is OVMS's gRPC and REST message limit (1 GiB).
const DefaultMaxMessageBytes = 1 << 30

// ParseGRPCArgs reads --grpc_channel_arguments: a comma-separated list of
// name=value pairs in gRPC core's spelling, e.g.
// "grpc.max_receive_message_length=4194304,grpc.max_connection_age_ms=2000".
// Arguments gRPC core has but Go's gRPC lacks are kept in Ignored; a pair
// without "=" or a bad number is a usage error.
func ParseGRPCArgs(s string) (GRPCArgs, error) {
	a := GRPCArgs{MaxRecvBytes: DefaultMaxMessageBytes, MaxSendBytes: DefaultMaxMessageBytes}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return a, usage("grpc_channel_arguments has invalid format: %q is not name=value", kv)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		bad := func(min int64) error {
			if err != nil || n < min {
				return usage("grpc_channel_arguments has invalid format: %s needs an integer >= %d, got %q", k, min, v)
			}
			return nil
		}
		switch k {
		case "grpc.max_receive_message_length", "grpc.max_send_message_length":
			if err := bad(-1); err != nil {
				return a, err
			}
			size := int(n)
			if n < 0 || n > 1<<31-1 { // -1: unlimited in gRPC core
				size = 1<<31 - 1
			}
			if k == "grpc.max_receive_message_length" {
				a.MaxRecvBytes = size
			} else {
				a.MaxSendBytes = size
			}
		case "grpc.max_concurrent_streams":
			if err := bad(1); err != nil {
				return a, err
			}
			a.MaxConcurrentStreams = uint32(min(n, 1<<32-1))
		case "grpc.max_connection_age_ms", "grpc.max_connection_age_grace_ms", "grpc.max_connection_idle_ms",
			"grpc.keepalive_time_ms", "grpc.keepalive_timeout_ms", "grpc.http2.min_recv_ping_interval_without_data_ms":
			if err := bad(1); err != nil {
				return a, err
			}
			*map[string]*int64{
				"grpc.max_connection_age_ms":                        &a.MaxConnectionAgeMs,
				"grpc.max_connection_age_grace_ms":                  &a.MaxConnectionAgeGraceMs,
				"grpc.max_connection_idle_ms":                       &a.MaxConnectionIdleMs,
				"grpc.keepalive_time_ms":                            &a.KeepaliveTimeMs,
				"grpc.keepalive_timeout_ms":                         &a.KeepaliveTimeoutMs,
				"grpc.http2.min_recv_ping_interval_without_data_ms": &a.KeepaliveMinTimeMs,
			}[k] = n
		case "grpc.keepalive_permit_without_calls":
			if err := bad(0); err != nil || n > 1 {
				return a, usage("grpc_channel_arguments has invalid format: %s needs 0 or 1, got %q", k, v)
			}
			permit := n == 1
			a.PermitWithoutCalls = &permit
		default:
			if !strings.HasPrefix(k, "grpc.") {
				return a, usage("grpc_channel_arguments has invalid format: unknown argument %q (gRPC arguments start with \"grpc.\")", k)
			}
			a.Ignored = append(a.Ignored, k)
		}
	}
	return a, nil
}

// String shows the effective settings (for the startup log).
func (a GRPCArgs) String() string {
	permit := a.PermitWithoutCalls != nil && *a.PermitWithoutCalls
	return fmt.Sprintf("max_recv=%d max_send=%d max_streams=%d max_idle_ms=%d keepalive_ms=%d keepalive_timeout_ms=%d min_ping_ms=%d pings_without_calls=%t",
		a.MaxRecvBytes, a.MaxSendBytes, a.MaxConcurrentStreams, a.MaxConnectionIdleMs, a.KeepaliveTimeMs, a.KeepaliveTimeoutMs, a.KeepaliveMinTimeMs, permit)
}
