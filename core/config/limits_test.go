package config

import (
	"errors"
	"testing"
)

func TestLimitsDefaultsAndValidation(t *testing.T) {
	s := DefaultServer()
	s.Port = 9000
	m := DefaultModel()
	m.Name, m.BasePath = "m", "/p"
	s.Model = &m
	if err := s.Validate(false); err != nil {
		t.Fatal(err)
	}
	if s.Limits.MaxRequestBytes() != 128<<20 {
		t.Errorf("default request memory %d", s.Limits.MaxRequestBytes())
	}
	g := s.GRPC
	if g.MaxConnectionIdleMs != 300_000 || g.KeepaliveTimeMs != 120_000 || g.KeepaliveTimeoutMs != 20_000 ||
		g.KeepaliveMinTimeMs != 10_000 || g.PermitWithoutCalls == nil || !*g.PermitWithoutCalls {
		t.Errorf("gRPC keepalive from the flag defaults: %s", g)
	}

	// --grpc_channel_arguments wins over the flags.
	s.Limits.GRPCMaxConnectionIdleSeconds = 7
	s.GRPCChannelArguments = "grpc.keepalive_time_ms=5000,grpc.http2.min_recv_ping_interval_without_data_ms=1000,grpc.keepalive_permit_without_calls=0"
	if err := s.Validate(false); err != nil {
		t.Fatal(err)
	}
	g = s.GRPC
	if g.MaxConnectionIdleMs != 7000 || g.KeepaliveTimeMs != 5000 || g.KeepaliveMinTimeMs != 1000 || *g.PermitWithoutCalls {
		t.Errorf("channel arguments over flags: %s", g)
	}

	// Zero turns a limit off; a negative value is a usage error.
	s.GRPCChannelArguments = ""
	s.Limits = Limits{}
	if err := s.Validate(false); err != nil {
		t.Fatal(err)
	}
	if s.GRPC.MaxConnectionIdleMs != 0 || s.GRPC.KeepaliveTimeMs != 0 {
		t.Errorf("zero flags: %s", s.GRPC)
	}
	s.Limits.RestReadTimeoutSeconds = -1
	if err := s.Validate(false); !errors.Is(err, ErrUsage) || UsageMessage(err) != "rest_read_timeout_seconds should be 0 or more" {
		t.Errorf("negative timeout: %v", err)
	}
	if _, err := ParseGRPCArgs("grpc.keepalive_permit_without_calls=2"); !errors.Is(err, ErrUsage) {
		t.Errorf("permit 2: %v", err)
	}
}
