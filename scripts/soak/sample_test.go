package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadProcOfItself(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.rssKiB <= 0 || p.hwmKiB < p.rssKiB || p.fds < 3 || p.threads < 1 || p.maps < 10 {
		t.Errorf("figures %+v", p)
	}
}

func TestGoroutinesFromTheLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "ovms.log")
	if goroutines(log) != -1 {
		t.Error("no log: want -1")
	}
	os.WriteFile(log, []byte("level=info msg=\"configuration applied\" goroutines=31 models=3\nlevel=info msg=x\nlevel=info msg=\"configuration applied\" goroutines=44 models=4\n"), 0o644)
	if n := goroutines(log); n != 44 {
		t.Errorf("goroutines %d, want the last line's 44", n)
	}
}

// TestVerdictFailsOnGrowth: growth within the bounds passes; a plugin
// that grows past its bound, or one failed request, fails.
func TestVerdictFailsOnGrowth(t *testing.T) {
	max := bounds{coreRSSMiB: 64, pluginRSSMiB: 128, fds: 16, maps: 32, pluginMaps: 64, goroutines: 50, threads: 16}
	first := sample{core: proc{pid: 1, rssKiB: 50 << 10, fds: 20, maps: 80}, plugin: proc{pid: 2, rssKiB: 50 << 10, maps: 140}, goroutines: 30}
	ok := first
	ok.core.rssKiB += 10 << 10
	ok.plugin.maps += 10
	var out bytes.Buffer
	if code := verdict(&out, []sample{first, ok}, &stats{}, max); code != 0 {
		t.Fatalf("within bounds: %d\n%s", code, out.String())
	}
	grown := first
	grown.plugin.rssKiB += 200 << 10
	out.Reset()
	if code := verdict(&out, []sample{first, grown}, &stats{}, max); code != 1 || !strings.Contains(out.String(), "+200.0") {
		t.Fatalf("plugin RSS growth: %d\n%s", code, out.String())
	}
	st := &stats{}
	st.fail(os.ErrDeadlineExceeded)
	out.Reset()
	if code := verdict(&out, []sample{first, ok}, st, max); code != 1 || !strings.Contains(out.String(), "first failed request") {
		t.Fatalf("a failed request: %d\n%s", code, out.String())
	}
}
