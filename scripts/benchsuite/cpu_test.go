package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// TestTreeCPU: a child's CPU time counts in its parent's tree, not in the
// parent's own.
func TestTreeCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// A child burning CPU.
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	pid := os.Getpid()
	ppid, childCPU, ok := procStat(cmd.Process.Pid)
	if !ok || ppid != pid {
		t.Fatalf("procStat of the child: ok %v, parent %d, want %d", ok, ppid, pid)
	}
	if childCPU < 300*time.Millisecond {
		t.Fatalf("the child burned CPU for 1.5 s; procStat says %v", childCPU)
	}
	if own, tree := procCPU(pid), treeCPU(pid); tree-own < childCPU-2*clockTick {
		t.Fatalf("treeCPU %v - procCPU %v = %v, want at least the child's %v", tree, own, tree-own, childCPU)
	}
}

func TestContextSwitches(t *testing.T) {
	a := contextSwitches()
	if a == 0 {
		t.Fatal("contextSwitches() = 0, want the machine's count from /proc/stat")
	}
	for i := 0; i < 20; i++ {
		time.Sleep(time.Millisecond) // each sleep switches away and back
	}
	if b := contextSwitches(); b <= a {
		t.Errorf("contextSwitches() went from %d to %d across 20 sleeps, want it to grow", a, b)
	}
}

func TestCompetitionCause(t *testing.T) {
	eng := &measurement{Level: bench.Level{Throughput: 40, Count: 400}, Busy: 2, Switches: 400}
	ov := &measurement{Level: bench.Level{Throughput: 32, Count: 320}, Busy: 1.92, CoreBusy: 0.064, ClientBusy: 0.032, Switches: 4800}
	got := throughputCause(eng, ov)
	cpus := float64(runtime.NumCPU())
	for _, want := range []string{
		"the engine kept 2.00 cores busy for 40.0 infer/s (50.0 ms of CPU per inference)",
		"its core 2.0 ms, the plugin with the engine 58.0 ms",
		"the client (this process) 1.0 ms",
		fmt.Sprintf("client and core %.1f%% of the machine", 100*0.096/cpus),
		"engine 10, ovms 150",
		"took +16% CPU per inference",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("throughputCause = %q, want it to contain %q", got, want)
		}
	}
	ov.Switches = 0
	if got := competitionCause(eng, ov); got != "" {
		t.Errorf("competitionCause without switch counts = %q, want \"\"", got)
	}
}
