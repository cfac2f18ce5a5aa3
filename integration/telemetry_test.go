package integration

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/onnxruntime"
)

// TestEngineTelemetryOff: ovms's CPU plugin creates ONNX Runtime's
// environment and a session and serves a request without writing
// anything into the user's home or the temporary folder: the
// onnxruntime-node build of ONNX Runtime 1.30 records telemetry (a SQLite
// database and a device id under $HOME/.cache/Microsoft/DeveloperTools)
// unless ORT_DISABLE_TELEMETRY is set, which the binding does by default
// (devices/onnxruntime, TestTelemetryOffByDefault shows the files it
// writes otherwise).
func TestEngineTelemetryOff(t *testing.T) {
	home, tmp := t.TempDir(), t.TempDir()
	// Clear what would keep the telemetry off without ovms (a CI machine
	// sets CI) and what would move its files out of HOME.
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "ORT_DISABLE_TELEMETRY=", "XDG_CACHE_HOME="}
	for _, name := range onnxruntime.TelemetryOffVariables() {
		env = append(env, name+"=")
	}
	s := startEnv(t, env,
		"--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Fatal(err)
	}
	s.stop()
	for _, dir := range []string{home, tmp} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != dir {
				t.Errorf("left behind by ovms and its plugin: %s", strings.TrimPrefix(p, dir))
			}
			return nil
		})
	}
}
