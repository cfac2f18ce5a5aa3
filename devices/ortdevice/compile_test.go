package ortdevice

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestCompileSlots: a device compiles as many loads at once as the host's
// load parallelism (device.Env.LoadParallelism), else max(2, CPUs); a load
// arriving while every slot is taken waits, without reading its model or
// creating a session, and gives up when its caller does (the core's load
// timeout); once a slot is free it loads.
func TestCompileSlots(t *testing.T) {
	requireORT(t)
	log := quietLog()
	if d, err := New(Config{Name: "cpu", Devices: []string{"CPU"}}, &device.Env{Logger: log}); err != nil {
		t.Fatal(err)
	} else if got, want := d.eo.compiles.Size(), max(2, runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("without a load parallelism from the host: %d compiles at once, want max(2, GOMAXPROCS) = %d", got, want)
	}
	d, err := New(Config{Name: "cpu", Devices: []string{"CPU"}}, &device.Env{Logger: log, LoadParallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.eo.compiles.Size(); got != 1 {
		t.Fatalf("LoadParallelism 1: %d compiles at once, want 1", got)
	}

	dir := filepath.Join(t.TempDir(), "1")
	g := om.NewGraph("id")
	g.Output(g.Input("x", om.Float32, -1, 2), "x", om.Float32, -1, 2)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := om.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	key := device.ModelKey{Name: "m", Version: 1}
	req := &device.LoadRequest{Model: key, Path: dir, TargetDevice: "CPU"}

	other, err := d.eo.compiles.Acquire(context.Background(), 0) // another load compiling
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	_, err = d.Load(ctx, req)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "waiting to compile") {
		t.Fatalf("load while the only slot is taken: %v, want it to give up waiting to compile", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("the load gave up after %v, before its caller's deadline (200ms)", waited)
	}
	if _, ok := d.models.Load(key); ok {
		t.Fatal("a load that gave up waiting for a slot left the model loaded")
	}

	done := make(chan error, 1)
	go func() {
		_, err := d.Load(context.Background(), req)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a load finished (%v) while the only slot was taken", err)
	case <-time.After(200 * time.Millisecond):
	}
	other() // the other load ends
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("load once the slot was free: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting load did not start once the slot was free")
	}
	if _, ok := d.models.Load(key); !ok {
		t.Fatal("the model is not loaded after its load succeeded")
	}
	if n := d.eo.compiles.InUse(); n != 0 {
		t.Errorf("%d compile slots still taken after the loads ended", n)
	}
	if err := d.Unload(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// TestLoadWeight: a load weighs the bytes it carries, else its version
// folder's files (what it will read), 0 when unknown.
func TestLoadWeight(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), make([]byte, 234), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		req  device.LoadRequest
		want int64
	}{
		{"bytes", device.LoadRequest{ModelBytes: make([]byte, 77), Path: dir}, 77},
		{"files", device.LoadRequest{ModelFiles: []device.ModelFile{{Name: "m.xml", Data: make([]byte, 5)}, {Name: "m.bin", Data: make([]byte, 6)}}}, 11},
		{"folder", device.LoadRequest{Path: dir}, 1234},
		{"missing folder", device.LoadRequest{Path: filepath.Join(dir, "none")}, 0},
	} {
		if got := loadWeight(&c.req); got != c.want {
			t.Errorf("%s: weight %d, want %d", c.name, got, c.want)
		}
	}
}
