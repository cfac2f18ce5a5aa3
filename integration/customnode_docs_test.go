package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCustomNodeFromDocs: the argmax library of docs/custom-nodes.md is
// examples/argmax verbatim (under 150 lines); built and installed as the
// doc says, `ovms plugin list` and `inspect` show it, and ovms serving a
// config that names it starts it.
func TestCustomNodeFromDocs(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := docIncludes(t, filepath.Join(root, "docs", "custom-nodes.md"))
	for _, path := range []string{"examples/argmax/main.go", "examples/argmax/main_test.go"} {
		want, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if blocks[path] != string(want) {
			t.Errorf("docs/custom-nodes.md does not include %s verbatim", path)
		}
	}
	n := strings.Count(blocks["examples/argmax/main.go"], "\n")
	if n == 0 || n >= 150 {
		t.Errorf("the argmax library is %d lines, want under 150", n)
	}
	doc, _ := os.ReadFile(filepath.Join(root, "docs", "custom-nodes.md"))
	if !strings.Contains(string(doc), fmt.Sprintf("(`examples/argmax`, %d lines)", n)) {
		t.Errorf("docs/custom-nodes.md does not give the example's length, %d lines", n)
	}
	goIn(t, filepath.Join(root, "examples", "argmax"), nil, "test", "-count=1", ".")
	bin := filepath.Join(t.TempDir(), "ovms-node-argmax")
	goIn(t, root, nil, "build", "-o", bin, "./examples/argmax")
	plugins := t.TempDir()
	if code, out, stderr := runOVMS(t, "plugin", "install", bin, "--plugin_dir", plugins); code != 0 || !strings.Contains(out, "installed ovms-node-argmax") {
		t.Fatalf("plugin install: exit %d %s %s", code, out, stderr)
	}
	code, out, stderr := runOVMS(t, "plugin", "list", "--plugin_dir", plugins)
	if code != 0 || !strings.Contains(out, "CUSTOM NODE LIBRARY") || !strings.Contains(out, "argmax") || !strings.Contains(out, "available") {
		t.Errorf("plugin list: exit %d %s %s", code, out, stderr)
	}
	code, out, stderr = runOVMS(t, "plugin", "inspect", "argmax", "--plugin_dir", plugins)
	var info map[string]any
	if err := json.Unmarshal([]byte(out), &info); code != 0 || err != nil || info["kind"] != "custom node library" || info["name"] != "argmax" {
		t.Errorf("plugin inspect: exit %d %s %s", code, out, stderr)
	}
	installed := filepath.Join(plugins, "ovms-node-argmax")
	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [], "custom_node_library_config_list": [{"name": "argmax", "base_path": %q}]}`, plugins))
	s := startArgs(t, "--config_path", cfg)
	if pids := nodePids(t, s); pids["argmax"] == 0 || exe(pids["argmax"]) != installed {
		t.Errorf("library processes %v, want %s\n%s", pids, installed, s.log())
	}
}

// TestCustomNodeStarter: `ovms plugin new --node` writes a library that
// passes its contract tests and builds offline, which ovms then runs.
func TestCustomNodeStarter(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "scale")
	code, out, stderr := runOVMS(t, "plugin", "new", "--node", "scale", "--dir", dir, "--sdk", root)
	if code != 0 || !strings.Contains(out, "custom node library") || !strings.Contains(out, "ovms-node-scale") {
		t.Fatalf("plugin new --node: exit %d %s %s", code, out, stderr)
	}
	offline := offlineGo(t, root)
	goIn(t, dir, offline, "mod", "tidy")
	goIn(t, dir, offline, "test", "-count=1", "./...")
	bin := filepath.Join(dir, "ovms-node-scale")
	goIn(t, dir, offline, "build", "-o", bin, ".")
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [], "custom_node_library_config_list": [{"name": "scale", "base_path": "ovms-node-scale"}]}`)
	s := startArgs(t, "--config_path", cfg)
	if pids := nodePids(t, s); pids["scale"] == 0 {
		t.Errorf("the starter library is not running: %v\n%s", pids, s.log())
	}
}
