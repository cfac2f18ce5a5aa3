package integration

import (
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// procsField matches what the core logs of its scheduler's CPUs.
var procsField = regexp.MustCompile(`core scheduler CPUs.*cpus=(\d+) gomaxprocs=(\d+)`)

// TestCoreProcs checks that the server's core runs its Go scheduler on Go's
// default CPUs unless OVMS_CORE_GOMAXPROCS sets fewer (internal/coreprocs;
// 0: Go's default), and leaves GOMAXPROCS as the environment sets it; the
// served model answers in each case.
func TestCoreProcs(t *testing.T) {
	cpus := runtime.GOMAXPROCS(0) // the test's own, as Go would give ovms
	model := []string{"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--log_level", "DEBUG"}
	cases := []struct {
		name string
		env  []string
		want int
	}{
		{"default: Go's", []string{"GOMAXPROCS=", "OVMS_CORE_GOMAXPROCS="}, cpus},
		{"OVMS_CORE_GOMAXPROCS=1", []string{"GOMAXPROCS=", "OVMS_CORE_GOMAXPROCS=1"}, 1},
		{"OVMS_CORE_GOMAXPROCS=3", []string{"GOMAXPROCS=", "OVMS_CORE_GOMAXPROCS=3"}, 3},
		{"OVMS_CORE_GOMAXPROCS=0: Go's", []string{"GOMAXPROCS=", "OVMS_CORE_GOMAXPROCS=0"}, cpus},
		{"GOMAXPROCS=5 wins", []string{"GOMAXPROCS=5", "OVMS_CORE_GOMAXPROCS=1"}, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startEnv(t, c.env, model...)
			defer s.stop()
			if err := dummyInfer(t, s, "dummy", ""); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(s.log(), "\n") {
				if m := procsField.FindStringSubmatch(l); m != nil && strings.Contains(l, "component=server") {
					got = m
				}
			}
			if got == nil {
				t.Fatalf("no %q line from the core in its log:\n%s", "core scheduler CPUs", s.log())
			}
			if n, _ := strconv.Atoi(got[2]); n != c.want {
				t.Errorf("core gomaxprocs=%s, want %d (%s)", got[2], c.want, got[0])
			}
		})
	}
}
