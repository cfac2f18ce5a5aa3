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

	"github.com/ovmsgo/ovms/internal/lowprio"
)

// threadNices reads the nice value of every thread of a process
// (/proc/PID/task/TID/stat, field 19).
func threadNices(t *testing.T, pid int) map[int]int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // from field 3
		nice, _ := strconv.Atoi(f[16])
		tid, _ := strconv.Atoi(task.Name())
		out[tid] = nice
	}
	return out
}

// TestReloadLoadsAtLowerPriority: the loads of a start run at the normal
// priority; a model loaded again by a config reload while another model is
// being served compiles on a plugin thread whose nice value is
// lowprio.Nice higher ("model compiled" ... nice=N), its requests and the
// other model's keep answering, and no plugin thread keeps the lowered
// priority afterwards (the thread ends with the load, within 10 s on a
// busy machine; a model with a thread pool of its own is compiled at the
// normal priority).
func TestReloadLoadsAtLowerPriority(t *testing.T) {
	base, ok := lowprio.ThreadNice()
	if !ok {
		t.Skip("thread priorities are read on Linux only")
	}
	want := min(base+lowprio.Nice(), 19)
	if want == base {
		t.Skipf("the tests already run at nice %d: nothing lower to give a load", base)
	}
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "served", 1)
	repoWithVersions(t, dir, "dummy", "changed", 1)
	cfg := filepath.Join(dir, "config.json")
	config := func(pluginConfig string) string {
		return `{"model_config_list": [{"config": {"name": "served", "base_path": "served"}},
			{"config": {"name": "changed", "base_path": "changed"` + pluginConfig + `}}]}`
	}
	writeConfig(t, cfg, config(""))
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "0")
	compiled := regexp.MustCompile(`msg="model compiled".*`)
	if lines := compiled.FindAllString(s.log(), -1); len(lines) != 2 {
		t.Fatalf("%d \"model compiled\" lines at the start, want 2:\n%s", len(lines), s.log())
	} else {
		for _, l := range lines {
			if strings.Contains(l, " nice=") {
				t.Errorf("a load of the start ran at a lowered priority: %s", l)
			}
		}
	}
	plugins := children(t, s.cmd.Process.Pid)
	if len(plugins) != 1 {
		t.Fatalf("plugin processes: %v", plugins)
	}

	load := startInferLoop(t, s, "served", 1)
	waitFor(t, 10*time.Second, "requests answered", func() bool { return load.ok.Load() > 20 })
	reload := func(pluginConfig string) {
		t.Helper()
		writeConfig(t, cfg, config(pluginConfig))
		if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
			t.Fatalf("reload: %d %s", code, body)
		}
		if err := dummyInfer(t, s, "changed", ""); err != nil {
			t.Errorf("the reloaded model: %v", err)
		}
	}
	reload(`, "plugin_config": {"PERFORMANCE_HINT": "LATENCY"}`)
	// A model with a thread pool of its own (thread settings) is compiled at
	// the normal priority: its pool's threads start during the compile and
	// would keep a lowered priority for the model's life.
	reload(`, "plugin_config": {"INFERENCE_NUM_THREADS": 2}`)
	load.stop()
	if load.failed.Load() > 0 {
		t.Errorf("%d requests to the served model failed during the reload, the first: %v", load.failed.Load(), load.firstErr.Load())
	}
	lines := compiled.FindAllString(s.log(), -1)
	if len(lines) != 4 || !strings.Contains(lines[2], "model=changed") || !strings.Contains(lines[3], "model=changed") {
		t.Fatalf("\"model compiled\" lines after the reloads, want the 3rd and 4th for changed:\n%s", strings.Join(lines, "\n"))
	}
	if m := regexp.MustCompile(` nice=(\d+)`).FindStringSubmatch(lines[2]); m == nil || m[1] != strconv.Itoa(want) {
		t.Errorf("the reload's load ran at nice %v, want %d (the plugin's %d + %d): %s", m, want, base, lowprio.Nice(), lines[2])
	}
	if !strings.Contains(lines[3], "thread_pool=own") || strings.Contains(lines[3], " nice=") {
		t.Errorf("the reload of a model with its own thread pool, want it on its own pool at the normal priority: %s", lines[3])
	}
	// The lowered thread ends with its load, but its exit is its own: at
	// nice +10 on two busy cores (the clients, the second reload) it may
	// wait for the CPU a while after the reload answered. Only a thread
	// that keeps the priority fails.
	lowered := func() map[int]int {
		out := map[int]int{}
		for tid, nice := range threadNices(t, plugins[0]) {
			if nice != base {
				out[tid] = nice
			}
		}
		return out
	}
	start, deadline := time.Now(), time.Now().Add(10*time.Second)
	if first := lowered(); len(first) > 0 {
		for len(lowered()) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("plugin threads %v still at a lowered priority after the reloads; the check waited %v", first, time.Since(start).Round(time.Millisecond))
	}
	for tid, nice := range lowered() {
		t.Errorf("plugin thread %d kept nice %d 10 s after the load (want %d)", tid, nice, base)
	}
}
