package pluginhost_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
)

// buildPlugin builds the real CPU plugin and the test models once per test.
func buildPlugin(t *testing.T) (binDir, models string) {
	t.Helper()
	dir := t.TempDir()
	binDir, models = filepath.Join(dir, "bin"), filepath.Join(dir, "models")
	for _, args := range [][]string{
		{"build", "-o", filepath.Join(binDir, "ovms-device-cpu"), "../../devices/cpu"},
		{"run", "../../scripts/testmodels", "-out", models},
	} {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	return binDir, models
}

func TestHostRunsTheCPUPlugin(t *testing.T) {
	binDir, models := buildPlugin(t)
	h := pluginhost.New(pluginhost.Config{Dirs: []string{t.TempDir(), binDir}, ArenaBytes: 8 << 20})
	defer h.Close()
	ctx := context.Background()
	if _, err := h.Get(ctx, "gpu"); err == nil {
		t.Fatal("a missing plugin was found")
	}
	inst, err := h.Get(ctx, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Pid() == os.Getpid() || inst.Pid() == 0 || inst.Info.Devices[0] != "CPU" {
		t.Fatalf("instance %+v pid %d", inst.Info, inst.Pid())
	}
	again, _ := h.Get(ctx, "cpu")
	if again != inst {
		t.Fatal("second Get started another process")
	}
	key := device.ModelKey{Name: "dummy", Version: 1}
	mi, err := inst.Device.Load(ctx, &device.LoadRequest{Model: key, Path: filepath.Join(models, "dummy", "1"), TargetDevice: "CPU"})
	if err != nil {
		t.Fatal(err)
	}
	if mi.Inputs[0].Name != "b" || mi.Outputs[0].Name != "a" {
		t.Fatalf("metadata %+v", mi)
	}
	off, _ := inst.Arena.HostZone().Alloc(40)
	in, _ := inst.Arena.Bytes(off, 40)
	for i := 0; i < 10; i++ {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32(i)))
	}
	resp, err := inst.Device.Infer(ctx, &device.InferRequest{Model: key, Inputs: []device.TensorRef{
		{Name: "b", DType: device.Float32, Shape: []int64{1, 10}, Offset: off, Length: 40}}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := inst.Arena.Bytes(resp.Outputs[0].Offset, resp.Outputs[0].Length)
	for i := 0; i < 10; i++ {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:])); got != float32(i+1) {
			t.Fatalf("a[%d] = %v", i, got)
		}
	}
	if err := inst.Device.Release(ctx, resp.Lease); err != nil {
		t.Fatal(err)
	}
	if err := inst.Device.Unload(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Device.Infer(ctx, &device.InferRequest{Model: key}); err == nil {
		t.Fatal("infer on an unloaded model succeeded")
	}
	h.Close()
	if !inst.Exited() {
		t.Fatal("plugin still running after Close")
	}
}
