package ortdevice

import (
	"runtime"
	"testing"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

func TestPinnedAffinities(t *testing.T) {
	if runtime.NumCPU() < 4 {
		t.Logf("%d CPUs: affinities wrap around", runtime.NumCPU())
	}
	opts := ort.SessionOptions{IntraOpThreads: 2, CPUPinning: true}
	got0 := pinned(opts, 0).ConfigEntries[affinityKey]
	got1 := pinned(opts, 1).ConfigEntries[affinityKey]
	if want := "2"; got0 != want {
		t.Errorf("stream 0: %q, want %q", got0, want)
	}
	if cpus := runtime.NumCPU(); cpus >= 4 && got1 != "4" {
		t.Errorf("stream 1: %q, want 4", got1)
	}
	if e := pinned(ort.SessionOptions{IntraOpThreads: 2}, 0).ConfigEntries; e[affinityKey] != "" {
		t.Errorf("no pinning unless asked: %v", e)
	}
	if e := pinned(ort.SessionOptions{IntraOpThreads: 1, CPUPinning: true}, 0).ConfigEntries; e[affinityKey] != "" {
		t.Errorf("one thread has no pool thread to pin: %v", e)
	}
	mine := ort.SessionOptions{IntraOpThreads: 2, CPUPinning: true, ConfigEntries: map[string]string{affinityKey: "1"}}
	if got := pinned(mine, 0).ConfigEntries[affinityKey]; got != "1" {
		t.Errorf("plugin_config's own affinities must win: %q", got)
	}
}
