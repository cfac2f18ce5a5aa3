package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseVersionPolicy(t *testing.T) {
	good := map[string]VersionPolicy{
		`{"all": {}}`:                        {Kind: PolicyAll},
		`{"latest": {"num_versions": 2}}`:    {Kind: PolicyLatest, NumVersions: 2},
		`{"specific": {"versions": [1, 3]}}`: {Kind: PolicySpecific, Versions: []int64{1, 3}},
	}
	for in, want := range good {
		got, err := ParseVersionPolicy(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{``, `[]`, `{"all": {"x": 1}}`, `{"latest": {}}`, `{"latest": {"num_versions": 0}}`,
		`{"specific": {"versions": []}}`, `{"specific": {"versions": [0]}}`, `{"all": {}, "latest": {"num_versions": 1}}`, `{"newest": {}}`} {
		if _, err := ParseVersionPolicy(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestVersionPolicySelect(t *testing.T) {
	avail := []int64{1, 5, 3}
	cases := []struct {
		p    VersionPolicy
		want []int64
	}{
		{VersionPolicy{Kind: PolicyLatest, NumVersions: 1}, []int64{5}},
		{VersionPolicy{Kind: PolicyLatest, NumVersions: 9}, []int64{5, 3, 1}},
		{VersionPolicy{Kind: PolicyAll}, []int64{5, 3, 1}},
		{VersionPolicy{Kind: PolicySpecific, Versions: []int64{3, 4}}, []int64{3}},
	}
	for _, c := range cases {
		if got := c.p.Select(avail); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.p, got, c.want)
		}
	}
}

func TestParsePluginConfig(t *testing.T) {
	got, err := ParsePluginConfig(`{"NUM_STREAMS": 2, "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": true, "X": 1.5}`)
	want := map[string]string{"NUM_STREAMS": "2", "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": "true", "X": "1.5"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{`{`, `[1]`, `{"A": [1]}`, `{"A": null}`} {
		if _, err := ParsePluginConfig(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestServerValidateOrder(t *testing.T) {
	base := func() Server {
		s := DefaultServer()
		s.Port = 9000
		m := DefaultModel()
		m.Name, m.BasePath = "m", "/p"
		s.Model = &m
		return s
	}
	cases := []struct {
		edit      func(*Server)
		modelFlag bool
		want      string
	}{
		{func(*Server) {}, false, ""},
		{func(s *Server) { s.Model.Name = "" }, false, "Use config_path or model_path with model_name"},
		{func(s *Server) { s.ConfigPath = "c.json" }, false, "Use either config_path or model_path with model_name"},
		{func(s *Server) { s.ConfigPath = "c.json"; s.Model = nil }, true, "Model parameters in CLI are exclusive with the config file"},
		{func(s *Server) { s.Port = 0 }, false, "port and rest_port cannot both be unset"},
		{func(s *Server) { s.GRPCWorkers = 0; s.Port = 0 }, false, "grpc_workers count should be from 1 to CPU core count : "},
		{func(s *Server) { s.RestWorkers = 1 }, false, "rest_workers count should be from 2 to 10000"},
		{func(s *Server) { s.RestWorkers = 4 }, false, "rest_workers is set but rest_port is not set. rest_port is required to start rest servers"},
		{func(s *Server) { s.Port = 70000 }, false, "port number out of range from 0 to 65535"},
		{func(s *Server) { s.RestPort = -1 }, false, "rest_port number out of range from 0 to 65535"},
		{func(s *Server) { s.RestBindAddress = "a b" }, false, "rest_bind_address has invalid format: proper hostname or IP address expected."},
		{func(s *Server) { s.GRPCBindAddress = "-x" }, false, "grpc_bind_address has invalid format: proper hostname or IP address expected."},
		{func(s *Server) { s.RestPort = 9000 }, false, "port and rest_port cannot have the same values"},
		{func(s *Server) { s.CPUExtension = "/no/such/file" }, false, "File path provided as an --cpu_extension parameter does not exist in the filesystem: /no/such/file"},
		{func(s *Server) { s.LogLevel = "info" }, false, "log_level should be one of: TRACE, DEBUG, INFO, WARNING, ERROR"},
		{func(s *Server) { s.ModelLoadTimeoutSeconds = -1 }, false, "model_load_timeout_seconds should be 0 (no limit) or more"},
		{func(s *Server) { s.ModelLoadParallelism = -1 }, false, "model_load_parallelism should be from 0 (the default) to 1024"},
	}
	for i, c := range cases {
		s := base()
		c.edit(&s)
		err := s.Validate(c.modelFlag)
		got := ""
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Errorf("case %d: %v is not a usage error", i, err)
			}
			got = UsageMessage(err)
		}
		if c.want == "" && got != "" || c.want != "" && (len(got) < len(c.want) || got[:len(c.want)] != c.want) {
			t.Errorf("case %d: got %q, want %q", i, got, c.want)
		}
	}
}

func TestClientShmAllowedUIDs(t *testing.T) {
	for _, c := range []struct {
		list  string
		allow bool
		want  []uint32
		err   string
	}{
		{"", false, nil, ""},
		{"1000", true, []uint32{1000}, ""},
		{" 1000, 0 ,65534", true, []uint32{1000, 0, 65534}, ""},
		{"1000", false, nil, "client_shm_allowed_uids needs allow_client_shm"},
		{"1000,,1", true, nil, "client_shm_allowed_uids should be a comma-separated list of numeric uids"},
		{"root", true, nil, "client_shm_allowed_uids should be"},
		{"-1", true, nil, "client_shm_allowed_uids should be"},
		{"4294967295", true, nil, "client_shm_allowed_uids should be"},
	} {
		s := DefaultServer()
		s.Port = 9000
		m := DefaultModel()
		m.Name, m.BasePath = "m", "/p"
		s.Model = &m
		s.AllowClientShm, s.ClientShmAllowedUIDs = c.allow, c.list
		err := s.Validate(false)
		if c.err != "" {
			if err == nil || !errors.Is(err, ErrUsage) || !strings.HasPrefix(UsageMessage(err), c.err) {
				t.Errorf("%q: %v, want usage error %q", c.list, err, c.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(s.ClientShmUIDs) != fmt.Sprint(c.want) {
			t.Errorf("%q: %v %v, want %v", c.list, s.ClientShmUIDs, err, c.want)
		}
	}
}

// TestStatefulModelSettings checks that config.json's stateful options
// reach the model with OVMS's defaults when absent.
func TestStatefulModelSettings(t *testing.T) {
	f, err := ParseFile("/c.json", []byte(`{"model_config_list": [
		{"config": {"name": "a", "base_path": "/m/a", "stateful": true}},
		{"config": {"name": "b", "base_path": "/m/b", "stateful": true, "max_sequence_number": 7, "idle_sequence_cleanup": false,
			"low_latency_transformation": true, "state_mapping": {"h_in": "h_out"}}},
		{"config": {"name": "c", "base_path": "/m/c"}}]}`))
	if err != nil || len(f.Problems) > 0 || len(f.Models) != 3 {
		t.Fatalf("%v %v", err, f.Problems)
	}
	a, b, c := f.Models[0], f.Models[1], f.Models[2]
	if !a.Stateful || !a.IdleSequenceCleanup || a.MaxSequenceNumber != 500 || a.LowLatencyTransformation || a.StateMapping != nil {
		t.Errorf("defaults: %+v", a)
	}
	if !b.Stateful || b.IdleSequenceCleanup || b.MaxSequenceNumber != 7 || !b.LowLatencyTransformation || b.StateMapping["h_in"] != "h_out" {
		t.Errorf("set: %+v", b)
	}
	if c.Stateful {
		t.Errorf("stateless model marked stateful")
	}
	for _, bad := range []string{`[]`, `{"a": 1}`, `{"a": ""}`, `{"a": "o", "b": "o"}`} {
		if _, err := ParseStateMapping(bad); err == nil {
			t.Errorf("state mapping %s accepted", bad)
		}
	}
	if m, err := ParseStateMapping(`{"h_in": "h_out"}`); err != nil || m["h_in"] != "h_out" {
		t.Errorf("state mapping: %v %v", m, err)
	}
}
