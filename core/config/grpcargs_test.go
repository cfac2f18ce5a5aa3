package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGRPCArgs(t *testing.T) {
	a, err := ParseGRPCArgs("")
	if err != nil || a.MaxRecvBytes != 1<<30 || a.MaxSendBytes != 1<<30 || a.MaxConcurrentStreams != 0 {
		t.Fatalf("defaults: %+v %v", a, err)
	}
	a, err = ParseGRPCArgs(" grpc.max_receive_message_length=4096, grpc.max_send_message_length=-1,grpc.max_concurrent_streams=8,grpc.max_connection_age_ms=2000,grpc.http2.min_ping_interval_without_data_ms=5")
	if err != nil {
		t.Fatal(err)
	}
	if a.MaxRecvBytes != 4096 || a.MaxSendBytes != 1<<31-1 || a.MaxConcurrentStreams != 8 || a.MaxConnectionAgeMs != 2000 {
		t.Fatalf("parsed %+v", a)
	}
	if len(a.Ignored) != 1 || a.Ignored[0] != "grpc.http2.min_ping_interval_without_data_ms" {
		t.Fatalf("ignored %v", a.Ignored)
	}
	for in, want := range map[string]string{
		"grpc.max_receive_message_length":      `"grpc.max_receive_message_length" is not name=value`,
		"grpc.max_receive_message_length=big":  `grpc.max_receive_message_length needs an integer >= -1, got "big"`,
		"grpc.max_concurrent_streams=0":        `grpc.max_concurrent_streams needs an integer >= 1, got "0"`,
		"max_connection_age_ms=5":              `unknown argument "max_connection_age_ms"`,
		"grpc.keepalive_time_ms=1,=3":          `"=3" is not name=value`,
		"grpc.max_send_message_length=1,x=y=z": `unknown argument "x"`,
	} {
		_, err := ParseGRPCArgs(in)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "grpc_channel_arguments has invalid format: "+want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
