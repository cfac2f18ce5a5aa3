package onnxruntime

import (
	"os"
	"os/exec"
	"path/filepath"
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
// temporary folder (ONNX Runtime 1.30 writes a telemetry session id and a
// debug log per process there). The environment is created once per
// process, so the check runs in a child process of its own.
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
	cmd.Env = append(os.Environ(), "ORTGO_ENV_CHILD=1", "TMPDIR="+d)
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
