package integration

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nodePids maps the ovms-node-* children of s to their library program.
func nodePids(t *testing.T, s *server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, c := range children(t, s.cmd.Process.Pid) {
		if b := filepath.Base(exe(c)); strings.HasPrefix(b, "ovms-node-") {
			out[strings.TrimPrefix(b, "ovms-node-")] = c
		}
	}
	return out
}

// TestCustomNodeLibraries: ovms starts each library of
// custom_node_library_config_list in its own process (base_path naming the
// program, or relative to the config's folder), restarts one that is
// killed while the models keep serving, reports one that cannot start
// without failing the rest, and follows the list on reload.
func TestCustomNodeLibraries(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	rel, err := filepath.Rel(dir, filepath.Join(binDir, "ovms-node-cropboxes"))
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [{"config": {"name": "dummy", "base_path": %q}}],
		"custom_node_library_config_list": [
			{"name": "argmax", "base_path": %q},
			{"name": "crop", "base_path": %q},
			{"name": "broken", "base_path": "/nonexistent/ovms-node-x"}]}`,
		filepath.Join(modelsDir, "dummy"), filepath.Join(binDir, "ovms-node-argmax"), rel))
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "0")
	pids := nodePids(t, s)
	if pids["argmax"] == 0 || pids["cropboxes"] == 0 || len(pids) != 2 {
		t.Fatalf("library processes %v, want argmax and cropboxes\n%s", pids, s.log())
	}
	if log := s.log(); !strings.Contains(log, "custom node library did not start") || !strings.Contains(log, "/nonexistent/ovms-node-x") {
		t.Errorf("no error for the library that cannot start:\n%s", log)
	}
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Fatal(err)
	}

	// A killed library is restarted; the core and its models carry on.
	if err := syscall.Kill(pids["argmax"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "argmax restarted", func() (bool, string) {
		now := nodePids(t, s)
		return now["argmax"] != 0 && now["argmax"] != pids["argmax"], fmt.Sprint(now)
	})
	if now := nodePids(t, s); now["cropboxes"] != pids["cropboxes"] {
		t.Errorf("cropboxes restarted too: %v -> %v", pids, now)
	}
	if !strings.Contains(s.log(), "custom node library process ended") {
		t.Errorf("the crash is not logged:\n%s", s.log())
	}
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Errorf("dummy after a library crash: %v", err)
	}
	s.alive()

	// Reload: crop removed (its process stops), argmax kept as it is.
	kept := nodePids(t, s)["argmax"]
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [{"config": {"name": "dummy", "base_path": %q}}],
		"custom_node_library_config_list": [{"name": "argmax", "base_path": %q}]}`,
		filepath.Join(modelsDir, "dummy"), filepath.Join(binDir, "ovms-node-argmax")))
	if code, body := post(t, s.url("/v1/config/reload"), ""); code >= 300 {
		t.Errorf("reload: %d %s", code, body)
	}
	eventually(t, "cropboxes stopped", func() (bool, string) {
		now := nodePids(t, s)
		names := make([]string, 0, len(now))
		for n := range now {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Sprint(names) == "[argmax]" && now["argmax"] == kept, fmt.Sprint(now)
	})
	time.Sleep(100 * time.Millisecond)
	s.alive()
}
