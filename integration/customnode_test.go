package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// TestCustomNodeExampleModels: the detection and classification models of
// the example pipeline (docs/custom-nodes.md) serve and answer as the
// pipeline expects: fixed SSD rows, and the brightest channel winning.
func TestCustomNodeExampleModels(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [{"config": {"name": "detection", "base_path": %q}},
		{"config": {"name": "classification", "base_path": %q}}]}`,
		filepath.Join(modelsDir, "detection"), filepath.Join(modelsDir, "classification")))
	s := startArgs(t, "--config_path", cfg)
	image := strings.TrimSuffix(strings.Repeat("0.5,", 3*64*64), ",")
	code, body, err := restDo(s, http.DefaultClient, http.MethodPost, "/v2/models/detection/infer",
		`{"inputs":[{"name":"image","shape":[1,3,64,64],"datatype":"FP32","data":[`+image+`]}]}`)
	var det struct {
		Outputs []struct {
			Shape []int64   `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &det) != nil || len(det.Outputs) != 1 || len(det.Outputs[0].Data) != 28 {
		t.Fatalf("detection: %d %v %s", code, err, body)
	}
	if d := det.Outputs[0].Data; d[2] != 0.9 || d[9] != 0.8 || d[21] != -1 {
		t.Errorf("detection rows %v", d)
	}
	px := make([]string, 3*32*32)
	for i := range px {
		px[i] = "0.1"
		if i/(32*32) == 2 {
			px[i] = "0.9"
		}
	}
	code, body, err = restDo(s, http.DefaultClient, http.MethodPost, "/v2/models/classification/infer",
		`{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","data":[`+strings.Join(px, ",")+`]}]}`)
	var resp struct {
		Outputs []struct {
			Data []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &resp) != nil || len(resp.Outputs) != 1 || len(resp.Outputs[0].Data) != 3 {
		t.Fatalf("classification: %d %v %s", code, err, body)
	}
	if p := resp.Outputs[0].Data; p[2] <= p[0] || p[2] <= p[1] {
		t.Errorf("probabilities %v: channel 2 is the brightest", p)
	}
}

// TestCustomNodeValidate: ovms validate names a library whose program is
// missing, and passes a config whose libraries resolve.
func TestCustomNodeValidate(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [], "custom_node_library_config_list": [
		{"name": "missing", "base_path": "/nonexistent/ovms-node-x"}, {"name": "argmax", "base_path": %q}]}`, filepath.Join(binDir, "ovms-node-argmax")))
	code, out, stderr := runOVMS(t, "validate", "--config_path", cfg)
	if code != 1 || !strings.Contains(out, `custom node library "missing"`) || !strings.Contains(stderr, "1 of 2 custom node libraries would not start") {
		t.Errorf("validate: exit %d %s %s", code, out, stderr)
	}
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [], "custom_node_library_config_list": [{"name": "argmax", "base_path": %q}]}`, binDir))
	if code, out, stderr := runOVMS(t, "validate", "--config_path", cfg); code != 1 || !strings.Contains(out, "want one") {
		t.Errorf("validate with a folder of several programs: exit %d %s %s", code, out, stderr)
	}
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [], "custom_node_library_config_list": [{"name": "argmax", "base_path": %q}]}`, filepath.Join(binDir, "ovms-node-argmax")))
	if code, out, stderr := runOVMS(t, "validate", "--config_path", cfg); code != 0 {
		t.Errorf("validate of a good config: exit %d %s %s", code, out, stderr)
	}
}
