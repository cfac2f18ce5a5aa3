package ortdevice

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestModelFileMustBeARegularFile loads version folders whose model.onnx is
// a FIFO, a link to /dev/zero and a link to a regular model elsewhere: the
// first two are refused at once, naming the file; the link loads.
func TestModelFileMustBeARegularFile(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	version := func(name string) string {
		p := filepath.Join(dir, name, "1")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(version("fifo"), "model.onnx")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(version("zero"), "model.onnx")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	g := om.NewGraph("id")
	g.Output(g.Input("x", om.Float32, 1, 2), "x", om.Float32, 1, 2)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "elsewhere.onnx")
	if err := om.WriteFile(real, m); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(version("linked"), "model.onnx")
	if err := os.Symlink(real, linked); err != nil {
		t.Fatal(err)
	}
	log := logrus.NewEntry(logrus.New())
	load := func(path string) error {
		done := make(chan error, 1)
		go func() {
			m, err := loadModel(context.Background(), &device.LoadRequest{Path: filepath.Dir(path)}, "", engineOpts{}, log)
			if m != nil {
				m.close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("loading %s blocked for 10 s", path)
			return nil
		}
	}
	for path, what := range map[string]string{fifo: "a named pipe (FIFO)", zero: "a character device"} {
		err := load(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: %v", path, err)
		}
	}
	if err := load(linked); err != nil {
		t.Errorf("a link to a regular model file: %v", err)
	}
}

// TestLoadAfterTheCallerLeftIsDropped: a load whose caller gave up (the
// core's load timeout cancelled the call) is not kept, so it cannot
// replace what the core knows to be loaded.
func TestLoadAfterTheCallerLeftIsDropped(t *testing.T) {
	requireORT(t)
	g := om.NewGraph("id")
	g.Output(g.Input("x", om.Float32, 1, 2), "x", om.Float32, 1, 2)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := om.WriteFile(filepath.Join(dir, "1", "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	d := &Device{cfg: Config{Name: "test"}, log: logrus.NewEntry(logrus.New())}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	key := device.ModelKey{Name: "m", Version: 1}
	if _, err := d.Load(ctx, &device.LoadRequest{Model: key, Path: filepath.Join(dir, "1")}); err == nil {
		t.Fatal("a cancelled load succeeded")
	}
	if _, ok := d.models.Load(key); ok {
		t.Fatal("a cancelled load was kept")
	}
	if _, err := d.Load(context.Background(), &device.LoadRequest{Model: key, Path: filepath.Join(dir, "1")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Unload(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}
