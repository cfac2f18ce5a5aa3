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
