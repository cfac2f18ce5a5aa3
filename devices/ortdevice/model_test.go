package ortdevice

import (
	"runtime"
	"testing"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

func TestSpinningIsOffUnlessAsked(t *testing.T) {
	var opts ort.SessionOptions
	noSpinning(&opts)
	if opts.ConfigEntries[stopSpinKey] != "1" {
		t.Errorf("defaults %v", opts.ConfigEntries)
	}
	opts = ort.SessionOptions{ConfigEntries: map[string]string{stopSpinKey: "0"}}
	noSpinning(&opts)
	if opts.ConfigEntries[stopSpinKey] != "0" {
		t.Errorf("plugin_config's choice not kept: %v", opts.ConfigEntries)
	}
}

func TestStreamsShareTheCores(t *testing.T) {
	cores := runtime.NumCPU()
	cases := []struct {
		opts        ort.SessionOptions
		streams     int
		intraThread int
	}{
		{ort.SessionOptions{}, 1, cores},
		{ort.SessionOptions{Streams: 2}, 2, max(1, cores/2)},
		{ort.SessionOptions{PerformanceHint: "THROUGHPUT"}, max(1, cores/2), max(1, cores/max(1, cores/2))},
		{ort.SessionOptions{Streams: 3, IntraOpThreads: 5}, 3, 5},
	}
	for i, c := range cases {
		o := c.opts
		if n := streams(&o); n != c.streams || o.IntraOpThreads != c.intraThread {
			t.Errorf("case %d: %d streams, %d threads; want %d, %d", i, n, o.IntraOpThreads, c.streams, c.intraThread)
		}
	}
}

// TestOwnPoolReason: the models that keep pools of their own instead of
// the CPU plugin's shared pool, and why.
func TestOwnPoolReason(t *testing.T) {
	cases := []struct {
		pc   map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"PERFORMANCE_HINT": "LATENCY", "GRAPH_OPTIMIZATION_LEVEL": "ENABLE_ALL", "ENABLE_CPU_PINNING": "false"}, ""},
		{map[string]string{"session.use_env_allocators": "1"}, ""},
		{map[string]string{"session.dynamic_block_base": "4"}, "plugin_config session.dynamic_block_base"},
		{map[string]string{"session.set_denormal_as_zero": "1"}, "plugin_config session.set_denormal_as_zero"},
		{map[string]string{"INTRA_OP_THREADS": "0"}, "plugin_config INTRA_OP_THREADS"},
		{map[string]string{"INFERENCE_NUM_THREADS": "2"}, "plugin_config INFERENCE_NUM_THREADS"},
		{map[string]string{"CPU_THREADS_NUM": "2"}, "plugin_config CPU_THREADS_NUM"},
		{map[string]string{"INTER_OP_THREADS": "1"}, "plugin_config INTER_OP_THREADS"},
		{map[string]string{"ENABLE_CPU_PINNING": "true"}, "plugin_config ENABLE_CPU_PINNING"},
		{map[string]string{"EXECUTION_MODE": "PARALLEL"}, "plugin_config EXECUTION_MODE PARALLEL"},
		{map[string]string{affinityKey: "2"}, "plugin_config " + affinityKey},
		{map[string]string{"session.intra_op.allow_spinning": "0"}, "plugin_config session.intra_op.allow_spinning"},
		{map[string]string{stopSpinKey: "0"}, "plugin_config " + stopSpinKey},
		{map[string]string{"session.intra_op.spin_duration_us": "300"}, "plugin_config session.intra_op.spin_duration_us"},
		{map[string]string{"session.inter_op.spin_duration_us": "300"}, "plugin_config session.inter_op.spin_duration_us"},
		{map[string]string{"session.intra_op.spin_backoff_max": "8"}, "plugin_config session.intra_op.spin_backoff_max"},
		{map[string]string{"session.inter_op.spin_backoff_max": "8"}, "plugin_config session.inter_op.spin_backoff_max"},
	}
	for _, c := range cases {
		opts, err := ort.ParseSessionOptions(c.pc)
		if err != nil {
			t.Fatalf("%v: %v", c.pc, err)
		}
		if got := ownPoolReason(c.pc, opts); got != c.want {
			t.Errorf("ownPoolReason(%v) = %q, want %q", c.pc, got, c.want)
		}
	}
}

// TestLargeModelReason: from largeModelBytes of graph and external weights
// together a model keeps its own pool.
func TestLargeModelReason(t *testing.T) {
	half := make([]byte, largeModelBytes/2)
	if got := largeModelReason(half, nil); got != "" {
		t.Errorf("%d bytes: %q, want the shared pool", len(half), got)
	}
	if got := largeModelReason(half[:1000], []ort.ExternalFile{{Name: "w.bin", Data: half}, {Name: "v.bin", Data: half}}); got == "" {
		t.Errorf("graph and external files over %d bytes: shared pool, want its own", largeModelBytes)
	}
	if got := largeModelReason(make([]byte, largeModelBytes), nil); got != "a large model (16 MiB): its own pool spins between operators" {
		t.Errorf("%d bytes: %q", largeModelBytes, got)
	}
}

// TestSharedPoolStreams: a model on the shared pool keeps IntraOpThreads 0
// whatever its streams (they all run on the shared pool).
func TestSharedPoolStreams(t *testing.T) {
	for _, o := range []ort.SessionOptions{{}, {Streams: 2}, {PerformanceHint: "THROUGHPUT"}} {
		o.UseGlobalThreadPools = true
		want := max(1, o.Streams)
		if o.PerformanceHint == "THROUGHPUT" {
			want = max(1, runtime.NumCPU()/2)
		}
		if n := streams(&o); n != want || o.IntraOpThreads != 0 {
			t.Errorf("%+v: %d streams, %d threads; want %d streams, 0 threads", o, n, o.IntraOpThreads, want)
		}
	}
}
