package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickly runs f and fails the test if it takes longer than d.
func quickly(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if took := time.Since(start); took > d {
		t.Fatalf("%s took %v, more than %v", what, took.Round(time.Millisecond), d)
	}
}

// indexState is a model version's line of the repository index, as
// "STATE" or "STATE (reason)"; "" when it is not listed.
func indexState(t *testing.T, s *server, model, version string) string {
	t.Helper()
	for _, e := range repoIndex(t, s, "") {
		if e.Name == model && e.Version == version {
			if e.Reason != "" {
				return e.State + " (" + e.Reason + ")"
			}
			return e.State
		}
	}
	return ""
}

// TestModelFilesThatAreNotRegularFiles serves a config whose models'
// model.onnx is a FIFO (the plugin's open used to block forever: the
// server never became ready), a link to /dev/zero (the plugin read
// gigabytes), a link to a regular model file elsewhere (fine, as in OVMS),
// and a model whose mapping_config.json is a FIFO (read by the core). The
// server becomes ready, the bad models fail to load with an error naming
// the file, the others serve, and neither process's peak RSS grows.
func TestModelFilesThatAreNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "good", 1)
	repoWithVersions(t, dir, "dummy", "mapfifo", 1)
	if err := syscall.Mkfifo(filepath.Join(dir, "mapfifo", "1", "mapping_config.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := func(name string) string {
		p := filepath.Join(dir, name, "1")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(p, "model.onnx")
	}
	fifo, zero, linked := bad("fifo"), bad("zero"), bad("linked")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(modelsDir, "dummy", "1", "model.onnx"), linked); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	var entries []string
	for _, m := range []string{"fifo", "zero", "good", "linked", "mapfifo"} { // the bad ones first
		entries = append(entries, fmt.Sprintf(`{"config": {"name": %q, "base_path": %q}}`, m, m))
	}
	writeConfig(t, cfg, `{"model_config_list": [`+strings.Join(entries, ",")+`]}`)
	s := startArgs(t, "--config_path", cfg)

	for _, m := range []string{"good", "linked", "mapfifo"} {
		if err := dummyInfer(t, s, m, ""); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	for _, m := range []string{"fifo", "zero"} {
		if got := indexState(t, s, m, "1"); got != "UNAVAILABLE (loading failed; see the server log)" {
			t.Errorf("%s: %s", m, got)
		}
	}
	log := s.log()
	for path, what := range map[string]string{fifo: "is a named pipe (FIFO)", zero: "is a character device"} {
		if !strings.Contains(log, path+" "+what) {
			t.Errorf("no load error naming %s (%s) in the log:\n%s", path, what, log)
		}
	}
	if !strings.Contains(log, "mapping_config.json is a named pipe (FIFO)") {
		t.Errorf("the FIFO mapping_config.json is not reported:\n%s", log)
	}
	// Bounds: an idle core takes about 40 MiB, a CPU plugin with these
	// models about 60 MiB; reading /dev/zero took gigabytes.
	if hwm := procKB(t, s.cmd.Process.Pid, "VmHWM") >> 10; hwm > 300 {
		t.Errorf("core peak RSS %d MiB, want at most 300", hwm)
	}
	if hwm := procKB(t, pluginPid(t, s), "VmHWM") >> 10; hwm > 400 {
		t.Errorf("plugin peak RSS %d MiB, want at most 400", hwm)
	}
	s.alive()
}

// TestLoadTimeoutBlocksNothingElse adds to a running server a model whose
// load hangs in its plugin (the mock plugin's MOCK_LOAD_DELAY_MS ignores
// cancellation, as a stuck engine call) and one that loads normally in the
// same plugin. While the load hangs, the other model loads, another model
// is unloaded and loaded through the repository API, readiness stays 200
// and requests are served; after --model_load_timeout_seconds the version
// is a failed load, and later reloads and models are not held up by it.
func TestLoadTimeoutBlocksNothingElse(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"ok", "stuck", "mockok", "later"} {
		repoWithVersions(t, dir, "dummy", m, 1)
	}
	cfg := filepath.Join(dir, "config.json")
	okEntry := `{"config": {"name": "ok", "base_path": "ok"}}`
	writeConfig(t, cfg, `{"model_config_list": [`+okEntry+`]}`)
	s := startArgs(t, "--config_path", cfg, "--model_load_timeout_seconds", "4", "--file_system_poll_wait_seconds", "1")

	stuckEntry := `{"config": {"name": "stuck", "base_path": "stuck", "target_device": "MOCK", "plugin_config": {"MOCK_LOAD_DELAY_MS": 120000}}}`
	mockEntry := `{"config": {"name": "mockok", "base_path": "mockok", "target_device": "MOCK"}}`
	writeConfig(t, cfg, `{"model_config_list": [`+strings.Join([]string{okEntry, stuckEntry, mockEntry}, ",")+`]}`)
	hung := time.Now()
	eventually(t, "the stuck model loading and the other mock model served", func() (bool, string) {
		st := versionStates(t, s)
		return st["stuck"] == "1:LOADING" && st["mockok"] == "1:AVAILABLE", fmt.Sprint(st)
	})
	quickly(t, 2*time.Second, "repository unload of another model during a hung load", func() {
		if code, out := post(t, s.url("/v2/repository/models/ok/unload"), ""); code != 200 {
			t.Fatalf("unload: %d %s", code, out)
		}
	})
	quickly(t, 2*time.Second, "repository load of another model during a hung load", func() {
		if code, out := post(t, s.url("/v2/repository/models/ok/load"), ""); code != 200 {
			t.Fatalf("load: %d %s", code, out)
		}
	})
	if code, _ := get(t, s.url("/v2/health/ready")); code != http.StatusOK {
		t.Errorf("readiness during a hung load: %d", code)
	}
	for _, m := range []string{"ok", "mockok"} {
		if err := dummyInfer(t, s, m, ""); err != nil {
			t.Errorf("%s during a hung load: %v", m, err)
		}
	}
	if time.Since(hung) > 4*time.Second {
		t.Fatalf("the checks took %v: the load timeout passed before they ended", time.Since(hung))
	}

	eventually(t, "the hung load timed out", func() (bool, string) {
		got := indexState(t, s, "stuck", "1")
		return got == "UNAVAILABLE (loading failed; see the server log)", got
	})
	if !strings.Contains(s.log(), "model load timed out after 4s") {
		t.Errorf("no timeout error in the log:\n%s", s.log())
	}
	quickly(t, 2*time.Second, "a config reload after the timed-out load", func() {
		if code, out := post(t, s.url("/v1/config/reload"), ""); code != 200 {
			t.Errorf("reload: %d %s", code, out)
		}
	})
	laterEntry := `{"config": {"name": "later", "base_path": "later"}}`
	writeConfig(t, cfg, `{"model_config_list": [`+strings.Join([]string{okEntry, stuckEntry, mockEntry, laterEntry}, ",")+`]}`)
	eventually(t, "a model added after the timed-out load", func() (bool, string) {
		st := versionStates(t, s)
		return st["later"] == "1:AVAILABLE", fmt.Sprint(st)
	})
	for _, m := range []string{"ok", "mockok", "later"} {
		if err := dummyInfer(t, s, m, ""); err != nil {
			t.Errorf("%s after the timed-out load: %v", m, err)
		}
	}
	s.alive()
}

// TestRepositoryUnloadOutlastsPolls unloads a model through the repository
// API with a 1 s poll: it stays unloaded over several polls (also when a
// version folder is added), a repository load brings it back, and after a
// second unload a change of the model's configuration in config.json
// brings it back too. Another model is not affected.
func TestRepositoryUnloadOutlastsPolls(t *testing.T) {
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "m", 1)
	repoWithVersions(t, dir, "dummy", "other", 1)
	cfg := filepath.Join(dir, "config.json")
	body := func(mOptions string) string {
		return `{"model_config_list": [{"config": {"name": "m", "base_path": "m"` + mOptions + `}}, {"config": {"name": "other", "base_path": "other"}}]}`
	}
	writeConfig(t, cfg, body(""))
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")

	if code, out := post(t, s.url("/v2/repository/models/m/unload"), ""); code != 200 {
		t.Fatalf("unload: %d %s", code, out)
	}
	time.Sleep(1500 * time.Millisecond)
	addVersion(t, filepath.Join(dir, "m"), "dummy", 2) // a new version folder: still unloaded
	time.Sleep(2500 * time.Millisecond)                // four polls in all
	if st := versionStates(t, s); st["m"] != "1:END" || st["other"] != "1:AVAILABLE" {
		t.Fatalf("after unload and four polls: %v", st)
	}
	if err := dummyInfer(t, s, "m", ""); err == nil {
		t.Fatal("the unloaded model answered")
	}

	if code, out := post(t, s.url("/v2/repository/models/m/load"), ""); code != 200 {
		t.Fatalf("load: %d %s", code, out)
	}
	if st := versionStates(t, s); st["m"] != "1:END 2:AVAILABLE" {
		t.Fatalf("after load: %v", st)
	}
	if err := dummyInfer(t, s, "m", "2"); err != nil {
		t.Fatalf("after load: %v", err)
	}

	if code, out := post(t, s.url("/v2/repository/models/m/unload"), ""); code != 200 {
		t.Fatalf("second unload: %d %s", code, out)
	}
	time.Sleep(2500 * time.Millisecond)
	if st := versionStates(t, s); st["m"] != "1:END 2:END" {
		t.Fatalf("after the second unload and polls: %v", st)
	}
	writeConfig(t, cfg, body(`, "nireq": 2`)) // the model's configuration changes
	eventually(t, "the unloaded model back after its configuration changed", func() (bool, string) {
		st := versionStates(t, s)
		return st["m"] == "2:AVAILABLE", fmt.Sprint(st)
	})
	if err := dummyInfer(t, s, "m", ""); err != nil {
		t.Fatalf("after the config change: %v", err)
	}
	s.alive()
}
