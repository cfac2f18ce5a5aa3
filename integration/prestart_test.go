package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitLog waits until the server's log contains text.
func waitLog(t *testing.T, s *server, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(s.log(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after %v\n%s", text, within, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPluginStartedAheadOfModels: the device plugins that config.json
// names start while the config is still being read and the models'
// versions listed (issue 16, startup), and warm ONNX Runtime up in the
// background; here the only model has no version at all, so nothing but
// that early start would ever run the CPU plugin. With a process per
// model (--plugin_isolation model) no shared process is started.
func TestPluginStartedAheadOfModels(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": [{"config": {"name": "empty", "base_path": %q}}]}`, filepath.Join(dir, "empty")))

	t.Run("shared", func(t *testing.T) {
		s := launch(t, nil, "--config_path", cfg, "--log_level", "DEBUG")
		waitLog(t, s, `msg="engine warmed up"`, 20*time.Second)
		waitLog(t, s, `msg="server ready"`, 20*time.Second)
		pid := pluginPid(t, s)
		if !strings.Contains(s.log(), `msg="device plugin started"`) {
			t.Errorf("plugin %d started without its start logged\n%s", pid, s.log())
		}
	})
	t.Run("isolation model", func(t *testing.T) {
		s := launch(t, nil, "--config_path", cfg, "--log_level", "DEBUG", "--plugin_isolation", "model")
		waitLog(t, s, `msg="server ready"`, 20*time.Second)
		time.Sleep(300 * time.Millisecond)
		for _, c := range children(t, s.cmd.Process.Pid) {
			if strings.HasPrefix(filepath.Base(exe(c)), "ovms-device-") {
				t.Errorf("a device plugin (%s, pid %d) runs though each model gets its own process and none loaded\n%s", exe(c), c, s.log())
			}
		}
	})
}
