package customloader

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// TestHostProcessLifecycle runs the real example loader: a load starts
// it; SIGKILL makes the host start it again and a later load succeeds; so
// does SIGSTOP (the health check kills the hung process);
// another loader_config_file replaces the process; Close stops it.
func TestHostProcessLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds loaders/example")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ovms-loader-example")
	build := exec.Command("go", "build", "-o", bin, "github.com/ovmsgo/ovms/loaders/example")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := filepath.Join(dir, "m")
	if err := os.MkdirAll(filepath.Join(base, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "1", "model.onnx"), []byte("onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	h := New([]string{dir}, logrus.NewEntry(log))
	defer h.Close()
	l := &config.CustomLoader{Name: "example", Library: "example", Options: `{"loader_name":"example"}`}
	req := loaderhost.Request{Name: "m", BasePath: base, Version: 1, Path: filepath.Join(base, "1")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	load := func() {
		t.Helper()
		files, err := h.Load(ctx, l, req)
		if err != nil || len(files) != 1 || string(files[0].Data) != "onnx" {
			t.Fatalf("Load = %v, %v", files, err)
		}
	}
	load()
	pid := h.Pids()["example"]
	if pid == 0 {
		t.Fatal("no pid")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Pids()["example"] == pid || h.Pids()["example"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the loader was not restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	load()
	restarted := h.Pids()["example"]
	// A hung loader (stopped) fails its health checks and is killed, so
	// restarted too.
	if err := syscall.Kill(restarted, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for h.Pids()["example"] == restarted || h.Pids()["example"] == 0 {
		if time.Now().After(deadline) {
			_ = syscall.Kill(restarted, syscall.SIGCONT)
			t.Fatal("the stopped loader was not replaced")
		}
		time.Sleep(50 * time.Millisecond)
	}
	load()
	restarted = h.Pids()["example"]
	l2 := *l
	l2.ConfigFile = filepath.Join(dir, "unused.json")
	if _, err := h.Load(ctx, &l2, req); err != nil {
		t.Fatal(err)
	}
	if p := h.Pids()["example"]; p == restarted || p == 0 {
		t.Errorf("new settings kept pid %d", p)
	}
	h.Unload(ctx, &l2, "m", 1)
	if got, err := h.Retired(ctx, &l2, req, []int64{1}); err != nil || len(got) != 0 {
		t.Errorf("Retired = %v, %v", got, err)
	}
	h.Close()
	if _, err := h.Load(ctx, l, req); err == nil {
		t.Error("Load after Close succeeded")
	}
	// A missing binary fails the load with the lookup's words, and is
	// looked for again on the next load.
	h2 := New(nil, logrus.NewEntry(log))
	defer h2.Close()
	if _, err := h2.Load(ctx, &config.CustomLoader{Name: "x", Library: "/nonexistent/ovms-loader-x"}, req); err == nil {
		t.Error("a missing loader loaded")
	}
	if len(h2.Pids()) != 0 {
		t.Errorf("pids %v", h2.Pids())
	}
}
