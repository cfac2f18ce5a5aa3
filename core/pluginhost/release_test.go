package pluginhost_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/core/pluginhost"
)

// resources counts this process's open descriptors and its shared-memory
// mappings (memfd arenas and channels).
func resources(t *testing.T) (fds, memfdMaps int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.Contains(l, "/memfd:") {
			memfdMaps++
		}
	}
	return len(ents), memfdMaps
}

// settle waits until f reports what want says, or fails after a while.
func settle(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, got := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailedStartsReleaseEverything starts a "plugin" that exits at once
// ten times: every attempt must give back its arena, its channel and their
// descriptors.
func TestFailedStartsReleaseEverything(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, pluginhost.BinaryPrefix+"bad")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := pluginhost.New(pluginhost.Config{Dirs: []string{dir}, ArenaBytes: 8 << 20})
	defer h.Close()
	ctx := context.Background()
	if _, err := h.Get(ctx, "bad"); err == nil { // warm up (first-use allocations)
		t.Fatal("a plugin that exits at once started")
	}
	fds0, maps0 := resources(t)
	for i := 0; i < 10; i++ {
		if _, err := h.Get(ctx, "bad"); err == nil {
			t.Fatal("a plugin that exits at once started")
		}
	}
	settle(t, "after 10 failed starts", func() (bool, string) {
		fds, maps := resources(t)
		return fds <= fds0 && maps <= maps0, fmt.Sprintf("%d fds (%d before), %d memfd mappings (%d before)", fds, fds0, maps, maps0)
	})
}

// TestRestartsReleaseEverything kills the real CPU plugin five times: each
// dead process's channel, descriptors and arena (nothing holds it) are
// released, so the host ends with what one live plugin needs.
func TestRestartsReleaseEverything(t *testing.T) {
	binDir, _ := buildPlugin(t)
	h := pluginhost.New(pluginhost.Config{Dirs: []string{binDir}, ArenaBytes: 8 << 20})
	defer h.Close()
	tmp := t.TempDir() // go-plugin makes a socket folder per process here
	t.Setenv("TMPDIR", tmp)
	restarted := make(chan *pluginhost.Instance, 1)
	h.SetRestartHandler(func(key string, inst *pluginhost.Instance) { restarted <- inst })
	ctx := context.Background()
	_, none := resources(t)
	inst, err := h.Get(ctx, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	fds0, maps0 := resources(t)
	if maps0 != none+2 {
		t.Fatalf("one live plugin maps %d memfds, want 2 (arena and channel)", maps0-none)
	}
	for i := 0; i < 5; i++ {
		if err := syscall.Kill(inst.Pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case inst = <-restarted:
		case <-time.After(20 * time.Second):
			t.Fatalf("restart %d: the plugin was not restarted", i+1)
		}
	}
	settle(t, "after 5 restarts", func() (bool, string) {
		fds, maps := resources(t)
		ents, _ := os.ReadDir(tmp)
		// The live plugin's socket and its own temporary folder, nothing else.
		var sockets, dirs int
		for _, e := range ents {
			switch {
			case strings.HasPrefix(e.Name(), "plugin") && e.Type()&os.ModeSocket != 0:
				sockets++
			case strings.HasPrefix(e.Name(), "ovms-cpu-") && e.IsDir():
				dirs++
			}
		}
		return fds <= fds0 && maps <= maps0 && len(ents) == 2 && sockets == 1 && dirs == 1,
			fmt.Sprintf("%d fds (%d before), %d memfd mappings (%d before), %d entries in TMPDIR (want the live plugin's socket and its folder): %v", fds, fds0, maps, maps0, len(ents), ents)
	})
}
