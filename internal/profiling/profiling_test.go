package profiling

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// startAndWait runs Start with the profile window set to 1 s in dir and
// waits for the last file it writes (the allocation profile at the end).
func startAndWait(t *testing.T, dir, trace string) string {
	t.Helper()
	t.Setenv(EnvDir, dir)
	t.Setenv(EnvSeconds, "1")
	t.Setenv(EnvDelay, "0s")
	t.Setenv(EnvTrace, trace)
	Start("test", t.Logf)
	base := filepath.Join(dir, "test-"+strconv.Itoa(os.Getpid()))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := os.Stat(base + ".allocs.pprof"); err == nil && st.Size() > 0 {
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s.allocs.pprof after 20 s", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartWritesTheProfiles: a CPU profile and the allocation profiles,
// and an execution trace only with OVMS_PROFILE_TRACE=1.
func TestStartWritesTheProfiles(t *testing.T) {
	dir := t.TempDir()
	base := startAndWait(t, dir, "")
	for _, ext := range []string{".cpu.pprof", ".allocs0.pprof", ".allocs.pprof"} {
		if st, err := os.Stat(base + ext); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", base+ext, err)
		}
	}
	if _, err := os.Stat(base + ".trace"); err == nil {
		t.Error("an execution trace was written without OVMS_PROFILE_TRACE=1")
	}

	dir = t.TempDir()
	base = startAndWait(t, dir, "1")
	data, err := os.ReadFile(base + ".trace")
	if err != nil {
		t.Fatal(err)
	}
	// An execution trace starts with its header, "go 1.NN trace".
	if head := data[:min(len(data), 16)]; !bytes.HasPrefix(head, []byte("go 1.")) || !bytes.Contains(head, []byte(" trace")) {
		t.Errorf("%s does not start as an execution trace: %q", base+".trace", data[:min(len(data), 16)])
	}
}
