package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestIRLoadHelpers: the one-model configs name the model by an absolute
// base path, and this process's peak RSS is readable.
func TestIRLoadHelpers(t *testing.T) {
	dir := t.TempDir()
	path, err := oneModelConfig(dir, benchIR)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		List []struct {
			Config struct {
				Name     string `json:"name"`
				BasePath string `json:"base_path"`
			} `json:"config"`
		} `json:"model_config_list"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.List) != 1 || cfg.List[0].Config.Name != benchIR || cfg.List[0].Config.BasePath != filepath.Join(dir, benchIR) {
		t.Errorf("config %s", data)
	}
	if hwm := procStatusKiB(os.Getpid(), "VmHWM"); hwm <= 0 {
		t.Errorf("VmHWM of this process %d KiB", hwm)
	}
	if descendantsHWM(os.Getpid()) != 0 {
		t.Error("a test process has no children")
	}
}
