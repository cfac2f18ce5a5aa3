package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
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
