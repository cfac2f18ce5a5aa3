package integration

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// coreGC matches the core's own collections in its gctrace output (lines
// starting "gc N @"; the plugin's come through the plugin's log lines), and
// floorField the floor a process logs.
var (
	coreGC     = regexp.MustCompile(`(?m)^gc \d+ @`)
	floorField = regexp.MustCompile(`gc_min_heap_mb=(\d+)`)
)

// TestGCMinHeap checks that the server and its plugin set the garbage
// collector's heap floor (internal/gcfloor: 16 MiB, OVMS_GC_MIN_HEAP_MB,
// none with GOGC set), and that it works in the real server: 3,000 dummy
// requests (the core allocates about 6.6 KiB each) take the core's
// collector at least three times fewer cycles than with the floor off.
func TestGCMinHeap(t *testing.T) {
	model := []string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--log_level", "DEBUG"}
	run := func(env ...string) (log string, gcs int) {
		t.Helper()
		s := startEnv(t, append([]string{"GOGC=", "GODEBUG=gctrace=1"}, env...), model...)
		defer s.stop()
		for range 100 { // warm: the floor is set after a first collection
			if err := dummyInfer(t, s, "dummy", ""); err != nil {
				t.Fatal(err)
			}
		}
		before := len(coreGC.FindAllString(s.out.String(), -1))
		for range 3000 {
			if err := dummyInfer(t, s, "dummy", ""); err != nil {
				t.Fatal(err)
			}
		}
		return s.log(), len(coreGC.FindAllString(s.out.String(), -1)) - before
	}
	floorLines := func(log string) (core, plugin string) {
		for _, l := range strings.Split(log, "\n") {
			if !strings.Contains(l, "garbage collector heap floor") {
				continue
			}
			v := floorField.FindStringSubmatch(l)
			if v == nil {
				continue
			}
			if strings.Contains(l, "component=server") {
				core = v[1]
			} else if strings.Contains(l, "plugin=cpu") {
				plugin = v[1]
			}
		}
		return core, plugin
	}

	log, withFloor := run("OVMS_GC_MIN_HEAP_MB=") // empty: the default
	if core, plugin := floorLines(log); core != "16" || plugin != "16" {
		t.Errorf("heap floor logged by the core %q and the plugin %q, want 16 and 16:\n%s", core, plugin, log)
	}
	log, without := run("OVMS_GC_MIN_HEAP_MB=0")
	if core, plugin := floorLines(log); core != "0" || plugin != "0" {
		t.Errorf("heap floor with OVMS_GC_MIN_HEAP_MB=0 logged by the core %q and the plugin %q, want 0 and 0", core, plugin)
	}
	t.Logf("3000 requests: %d collections of the core with the 16 MiB floor, %d without", withFloor, without)
	if without < 4 || withFloor*3 > without {
		t.Errorf("3000 requests: %d collections of the core with the 16 MiB floor, %d without; want at least 4 without and three times fewer with it", withFloor, without)
	}
	log, _ = run("OVMS_GC_MIN_HEAP_MB=48", "GOGC=100")
	if core, plugin := floorLines(log); core != "0" || plugin != "0" {
		t.Errorf("heap floor with GOGC=100 logged by the core %q and the plugin %q, want 0 and 0 (GOGC leaves Go's pacing)", core, plugin)
	}
}
