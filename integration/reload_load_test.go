package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procCounts reads a process's open files, threads and shared-memory
// mappings (memfd arenas and /dev/shm regions).
func procCounts(t *testing.T, pid int) (fds, threads, shmMaps int) {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if m := regexp.MustCompile(`Threads:\s+(\d+)`).FindSubmatch(st); m != nil {
		threads, _ = strconv.Atoi(string(m[1]))
	}
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.Contains(l, "/memfd:") || strings.Contains(l, "/dev/shm/") {
			shmMaps++
		}
	}
	return len(ents), threads, shmMaps
}

// lastGoroutines is the goroutine count of the last "configuration
// applied" line of the server log.
func lastGoroutines(t *testing.T, s *server) int {
	t.Helper()
	ms := regexp.MustCompile(`configuration applied.*goroutines=(\d+)`).FindAllStringSubmatch(s.log(), -1)
	if len(ms) == 0 {
		t.Fatalf("no 'configuration applied' line in the log:\n%s", s.log())
	}
	n, _ := strconv.Atoi(ms[len(ms)-1][1])
	return n
}

// TestReloadUnderLoad rewrites config.json 100 times (models added,
// removed and changed) while 4 clients call a model that never changes:
// none of their requests may fail, and the core's goroutines, open files
// and shared-memory mappings, and the plugin's files and mappings, must
// not grow.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "stable", 1)
	repoWithVersions(t, dir, "dummy", "churn", 1, 2)
	cfg := filepath.Join(dir, "config.json")
	stable := `{"config": {"name": "stable", "base_path": "stable"}}`
	config := func(i int) string {
		entries := []string{stable}
		switch i % 4 {
		case 0: // churn with one version
		case 1:
			entries = append(entries, `{"config": {"name": "churn", "base_path": "churn"}}`)
		case 2: // churn changed: all versions
			entries = append(entries, `{"config": {"name": "churn", "base_path": "churn", "model_version_policy": {"all": {}}}}`)
		case 3: // churn removed, extra added
			entries = append(entries, fmt.Sprintf(`{"config": {"name": "extra%d", "base_path": "churn", "nireq": %d}}`, i%3, 1+i%2))
		}
		return `{"model_config_list": [` + strings.Join(entries, ",") + `]}`
	}
	writeConfig(t, cfg, config(1))
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "0")
	pid := s.cmd.Process.Pid
	plugin := children(t, pid)
	if len(plugin) != 1 {
		t.Fatalf("plugin processes: %v", plugin)
	}
	// Settle, then measure the baseline after one full cycle.
	for i := 2; i <= 5; i++ {
		writeConfig(t, cfg, config(i))
		if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
			t.Fatalf("reload %d: %d %s", i, code, body)
		}
	}
	fds0, threads0, maps0 := procCounts(t, pid)
	pfds0, _, pmaps0 := procCounts(t, plugin[0])
	g0 := lastGoroutines(t, s)

	load := startInferLoop(t, s, "stable", 4)
	start := time.Now()
	for i := 6; i < 106; i++ {
		writeConfig(t, cfg, config(i))
		if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
			t.Errorf("reload %d: %d %s", i, code, body)
		}
	}
	took := time.Since(start)
	load.stop()
	t.Logf("100 reloads in %v under load: %d requests to the unchanged model, %d failed", took.Round(time.Millisecond), load.ok.Load(), load.failed.Load())
	if load.failed.Load() > 0 {
		t.Errorf("%d requests to the unchanged model failed, the first: %v", load.failed.Load(), load.firstErr.Load())
	}
	if load.ok.Load() < 100 {
		t.Errorf("only %d requests succeeded during the reloads", load.ok.Load())
	}
	// The same configuration as the baseline, then measure again.
	writeConfig(t, cfg, config(5)+" ")
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("final reload: %d %s", code, body)
	}
	time.Sleep(200 * time.Millisecond)
	fds1, threads1, maps1 := procCounts(t, pid)
	pfds1, _, pmaps1 := procCounts(t, plugin[0])
	g1 := lastGoroutines(t, s)
	t.Logf("core: goroutines %d -> %d, files %d -> %d, threads %d -> %d, shm mappings %d -> %d; plugin: files %d -> %d, shm mappings %d -> %d",
		g0, g1, fds0, fds1, threads0, threads1, maps0, maps1, pfds0, pfds1, pmaps0, pmaps1)
	if g1 > g0+8 { // 4 finished clients' connections may linger briefly
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if fds1 > fds0+4 || maps1 != maps0 || pfds1 > pfds0 || pmaps1 != pmaps0 {
		t.Errorf("resources grew: core files %d -> %d, core shm mappings %d -> %d, plugin files %d -> %d, plugin shm mappings %d -> %d",
			fds0, fds1, maps0, maps1, pfds0, pfds1, pmaps0, pmaps1)
	}
	s.alive()
}
