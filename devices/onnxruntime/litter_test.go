package onnxruntime

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoveNew: only what did not exist before the step is removed.
func TestRemoveNew(t *testing.T) {
	d := t.TempDir()
	old, fresh := filepath.Join(d, "old"), filepath.Join(d, "fresh")
	if err := os.WriteFile(old, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	done := removeNew([]string{old, fresh})
	if err := os.WriteFile(fresh, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	done()
	if _, err := os.Stat(old); err != nil {
		t.Errorf("a file that was there before was removed: %v", err)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("the file the step created is still there")
	}
}

// TestEnvLeavesNoFiles: creating the environment leaves nothing in the
// temporary folder, also with ONNX Runtime's telemetry on (ONNX Runtime 1.30
// then writes a telemetry session id and a debug log per process there).
// The environment is created once per process, so the check runs in a child
// process of its own.
func TestEnvLeavesNoFiles(t *testing.T) {
	if os.Getenv("ORTGO_ENV_CHILD") == "1" {
		initLib(t)
		if _, _, err := getEnv(); err != nil {
			t.Fatal(err)
		}
		return
	}
	initLib(t) // skips where the library is missing
	d := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestEnvLeavesNoFiles$", "-test.count=1")
	cmd.Env = append(telemetryOnEnv(), "ORTGO_ENV_CHILD=1", "TMPDIR="+d, EnvDisableTelemetry+"=0", "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in the temporary folder: %s", e.Name())
	}
}

// TestTelemetryOffByDefault: a process that loads the library through Init
// and creates sessions writes no telemetry into the user's home and has
// EnvDisableTelemetry set to "1" (also when it was set empty); with the
// variable set to "0" by the user
// the value is kept and ONNX Runtime 1.30 writes its telemetry database
// there (which shows the first check can fail).
func TestTelemetryOffByDefault(t *testing.T) {
	if os.Getenv("ORTGO_TELEMETRY_CHILD") == "1" {
		initLib(t)
		s, err := NewSession(identityModel(t, Float32, 2), SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := os.WriteFile(os.Getenv("ORTGO_TELEMETRY_OUT"), []byte(os.Getenv(EnvDisableTelemetry)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	initLib(t)
	run := func(value *string) (string, []string) {
		home, out := t.TempDir(), filepath.Join(t.TempDir(), "value")
		cmd := exec.Command(os.Args[0], "-test.run", "^TestTelemetryOffByDefault$", "-test.count=1", "-test.v")
		cmd.Env = append(telemetryOnEnv(), "ORTGO_TELEMETRY_CHILD=1", "ORTGO_TELEMETRY_OUT="+out, "HOME="+home, "TMPDIR="+t.TempDir())
		if value != nil {
			cmd.Env = append(cmd.Env, EnvDisableTelemetry+"="+*value)
		}
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, b)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		_ = filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, strings.TrimPrefix(p, home))
			}
			return nil
		})
		return string(got), files
	}
	empty := ""
	for _, value := range []*string{nil, &empty} {
		if v, files := run(value); v != "1" || len(files) > 0 {
			t.Errorf("telemetry not off by default (%s set: %t): %s=%q in the process, files written into HOME: %v", EnvDisableTelemetry, value != nil, EnvDisableTelemetry, v, files)
		}
	}
	on := "0"
	v, files := run(&on)
	if v != "0" {
		t.Errorf("the user's %s=0 was changed to %q", EnvDisableTelemetry, v)
	}
	if len(files) == 0 {
		t.Errorf("with %s=0, ONNX Runtime wrote nothing into HOME: does this library still have telemetry? (then the default-off check above proves nothing)", EnvDisableTelemetry)
	}
}

// telemetryOnEnv is this process's environment without what keeps ONNX
// Runtime's telemetry off or moves its files out of HOME: EnvDisableTelemetry,
// the CI markers of TelemetryOffVariables (a CI machine sets CI, which
// turned the telemetry off there and made the "=0 writes files" check fail)
// and XDG_CACHE_HOME.
func telemetryOnEnv() []string {
	drop := append([]string{EnvDisableTelemetry, "XDG_CACHE_HOME"}, TelemetryOffVariables()...)
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, name := range drop {
			if strings.HasPrefix(kv, name+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}
