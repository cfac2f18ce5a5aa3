package config

import "time"

// Limits are the ovms extensions that bound what one request and one
// connection may hold: the memory a request's decoded data may take, how
// long a REST client may take to send a request, how long idle
// connections stay open, and gRPC keepalive. docs/limits.md describes
// them for users.
type Limits struct {
	// MaxRequestMemoryMB bounds the memory, in MiB, that decoding one
	// request may allocate beyond its body: values read from JSON,
	// strings, and TF Serving single-value broadcasts (0: no bound).
	MaxRequestMemoryMB int
	// RestReadTimeoutSeconds bounds how long the request line and headers
	// may take to arrive, and is the time a request body gets before it
	// must keep up RestBodyMinRateKiB (0: no read deadlines).
	RestReadTimeoutSeconds int
	// RestBodyMinRateKiB is the slowest a request body may arrive, in KiB
	// per second: the body's deadline is RestReadTimeoutSeconds plus one
	// second per RestBodyMinRateKiB KiB received (0: the body must
	// arrive within RestReadTimeoutSeconds).
	RestBodyMinRateKiB int
	// RestIdleTimeoutSeconds closes keep-alive connections idle for
	// longer between requests (0: never).
	RestIdleTimeoutSeconds int
	// GRPCMaxConnectionIdleSeconds closes gRPC connections without an
	// active call for longer (a GOAWAY; clients reconnect) (0: never).
	GRPCMaxConnectionIdleSeconds int
	// GRPCKeepaliveTimeSeconds is how long a gRPC connection may be quiet
	// before the server pings the client, and GRPCKeepaliveTimeoutSeconds
	// how long it waits for the answer before closing it (0: gRPC's
	// defaults, 2 hours and 20 seconds).
	GRPCKeepaliveTimeSeconds, GRPCKeepaliveTimeoutSeconds int
	// GRPCKeepaliveMinTimeSeconds is the shortest interval at which a
	// client may ping; clients that ping more often are sent GOAWAY
	// (too_many_pings). Pings are allowed without active calls.
	GRPCKeepaliveMinTimeSeconds int
}

// DefaultLimits returns the defaults of the limit flags.
func DefaultLimits() Limits {
	return Limits{
		MaxRequestMemoryMB:           128,
		RestReadTimeoutSeconds:       30,
		RestBodyMinRateKiB:           64,
		RestIdleTimeoutSeconds:       120,
		GRPCMaxConnectionIdleSeconds: 300,
		GRPCKeepaliveTimeSeconds:     120,
		GRPCKeepaliveTimeoutSeconds:  20,
		GRPCKeepaliveMinTimeSeconds:  10,
	}
}

// Validate refuses negative values.
func (l *Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"max_request_memory_mb", l.MaxRequestMemoryMB},
		{"rest_read_timeout_seconds", l.RestReadTimeoutSeconds},
		{"rest_body_min_rate_kib", l.RestBodyMinRateKiB},
		{"rest_idle_timeout_seconds", l.RestIdleTimeoutSeconds},
		{"grpc_max_connection_idle_seconds", l.GRPCMaxConnectionIdleSeconds},
		{"grpc_keepalive_time_seconds", l.GRPCKeepaliveTimeSeconds},
		{"grpc_keepalive_timeout_seconds", l.GRPCKeepaliveTimeoutSeconds},
		{"grpc_keepalive_min_time_seconds", l.GRPCKeepaliveMinTimeSeconds},
	} {
		if f.v < 0 {
			return usage("%s should be 0 or more", f.name)
		}
	}
	return nil
}

// MaxRequestBytes is MaxRequestMemoryMB in bytes (0: no bound).
func (l *Limits) MaxRequestBytes() int64 { return int64(l.MaxRequestMemoryMB) << 20 }

// ReadTimeout is RestReadTimeoutSeconds as a duration.
func (l *Limits) ReadTimeout() time.Duration {
	return time.Duration(l.RestReadTimeoutSeconds) * time.Second
}

// IdleTimeout is RestIdleTimeoutSeconds as a duration.
func (l *Limits) IdleTimeout() time.Duration {
	return time.Duration(l.RestIdleTimeoutSeconds) * time.Second
}

// applyGRPC fills the keepalive settings that --grpc_channel_arguments
// left unset from the flags: the channel arguments win.
func (l *Limits) applyGRPC(a GRPCArgs) GRPCArgs {
	set := func(dst *int64, seconds int) {
		if *dst == 0 {
			*dst = int64(seconds) * 1000
		}
	}
	set(&a.MaxConnectionIdleMs, l.GRPCMaxConnectionIdleSeconds)
	set(&a.KeepaliveTimeMs, l.GRPCKeepaliveTimeSeconds)
	set(&a.KeepaliveTimeoutMs, l.GRPCKeepaliveTimeoutSeconds)
	set(&a.KeepaliveMinTimeMs, l.GRPCKeepaliveMinTimeSeconds)
	if a.PermitWithoutCalls == nil {
		yes := true
		a.PermitWithoutCalls = &yes
	}
	return a
}
