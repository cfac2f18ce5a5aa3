package ortdevice

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/shm"
	"github.com/ovmsgo/ovms/plugins/shm/faultguard"
)

// guard is the process's fault guard, as a plugin installs it.
func guard(t *testing.T) *faultguard.Guard {
	t.Helper()
	g, err := faultguard.Install()
	if err != nil {
		t.Skipf("no fault guard: %v", err)
	}
	return g
}

// inMaps reports whether path is mapped into this process.
func inMaps(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps")
	}
	return strings.Contains(string(b), path)
}

func writeBytes(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*31 + 7)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// writeAddBig writes a version folder whose model is y = x + c, c a
// constant of len(c) floats, and returns the folder and the model file.
func writeAddBig(t *testing.T, c []float32) (dir, file string) {
	t.Helper()
	n := int64(len(c))
	gr := om.NewGraph("add_big")
	x := gr.Input("x", om.Float32, 1, n)
	gr.Output(gr.Node("Add", []om.Value{x, gr.Constant(om.Float32Tensor("c", []int64{1, n}, c))}), "y", om.Float32, 1, n)
	m, err := gr.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "add_big", "1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "model.onnx")
	if err := om.WriteFile(file, m); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// TestLoadedFilesRead: with a guard, a file of mapMinBytes or more is
// mapped until release, a smaller one read into a pooled buffer; without
// a guard every file is read.
func TestLoadedFilesRead(t *testing.T) {
	g := guard(t)
	big, bigData := writeBytes(t, mapMinBytes+4096)
	small, smallData := writeBytes(t, 4096)

	lf := &loadedFiles{}
	b, err := lf.read(big, 0, g, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(bigData) {
		t.Fatal("the mapped file's bytes differ from the file")
	}
	if !inMaps(t, big) {
		t.Errorf("a %d-byte file with a guard was not mapped", len(bigData))
	}
	s, err := lf.read(small, 0, g, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(s) != string(smallData) || inMaps(t, small) {
		t.Errorf("a 4 KiB file: mapped %v, bytes equal %v; want read, equal", inMaps(t, small), string(s) == string(smallData))
	}
	if len(lf.pooled) != 1 {
		t.Errorf("%d pooled buffers held, want 1 (the small file's)", len(lf.pooled))
	}
	if err := lf.changed(); err != nil {
		t.Errorf("changed() = %v for files nobody touched", err)
	}
	lf.release()
	if inMaps(t, big) {
		t.Error("the file is still mapped after release")
	}
	lf.release() // twice is fine

	unguarded := &loadedFiles{}
	defer unguarded.release()
	if b, err := unguarded.read(big, 0, nil, false); err != nil || string(b) != string(bigData) || inMaps(t, big) {
		t.Errorf("without a guard: err %v, mapped %v; want the file read", err, inMaps(t, big))
	}
}

// TestLoadedFilesTruncated: a mapped model file cut while the load reads
// it costs the load, not the process: the pages past the cut read as
// zeros and changed names the file.
func TestLoadedFilesTruncated(t *testing.T) {
	g := guard(t)
	path, _ := writeBytes(t, 2*mapMinBytes)
	lf := &loadedFiles{}
	defer lf.release()
	b, err := lf.read(path, 0, g, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	if v := b[mapMinBytes]; v != 0 { // a SIGBUS without the guard
		t.Errorf("byte past the cut reads %d, want 0", v)
	}
	err = lf.changed()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("changed() = %v, want an error naming %s as truncated", err, path)
	}
}

// TestMappedModelLoad: a model file of mapMinBytes or more loads mapped
// (with the plugin's guard), computes with its own weights, and is no
// longer mapped once the load returns.
func TestMappedModelLoad(t *testing.T) {
	requireORT(t)
	g := guard(t)
	n := mapMinBytes/4 + 1024 // a constant of n floats: the file is over mapMinBytes
	c := make([]float32, n)
	for i := range c {
		c[i] = float32(i % 1000)
	}
	dir, file := writeAddBig(t, c)
	if st, err := os.Stat(file); err != nil {
		t.Fatal(err)
	} else if st.Size() < mapMinBytes {
		t.Fatalf("model file of %d bytes, want at least %d", st.Size(), mapMinBytes)
	}
	var maps []string
	onMap = func(path string) { maps = append(maps, path) }
	defer func() { onMap = nil }()
	loaded, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{guard: g}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.close()
	if len(maps) != 1 || maps[0] != file {
		t.Errorf("the load mapped %v, want [%s]", maps, file)
	}
	if inMaps(t, file) {
		t.Error("the model file is still mapped after its load")
	}
	checkAddC(t, loaded, c)
}

// checkAddC runs m, a model y = x + c, on x = 0, 1, 2, ... and checks y.
func checkAddC(t *testing.T, m *model, c []float32) {
	t.Helper()
	n := len(c)
	raw := make([]byte, 0, 4*n)
	for i := range n {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(i)))
	}
	out := runXY(t, m, []int64{1, int64(n)}, raw)
	for i := range n {
		if got, want := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:])), float32(i)+c[i]; got != want {
			t.Fatalf("y[%d] = %v, want %v", i, got, want)
		}
	}
}

// TestMappedModelTruncatedDuringLoad: a model file cut between its mapping
// and the engine's reading fails the load with an error naming the file,
// and the process goes on.
func TestMappedModelTruncatedDuringLoad(t *testing.T) {
	requireORT(t)
	g := guard(t)
	n := mapMinBytes/4 + 1024
	dir, file := writeAddBig(t, make([]float32, n))
	onMap = func(path string) {
		if err := os.Truncate(path, 4096); err != nil {
			t.Error(err)
		}
	}
	defer func() { onMap = nil }()
	loaded, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{guard: g}, quietLog())
	if err == nil {
		loaded.close()
		t.Fatal("a model truncated during its load loaded")
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("load error %q, want it to name %s as truncated", err, file)
	}
}

// TestDeviceLoadMaps: a Device maps a large model file when the plugin's
// environment has the fault guard (as plugins.ServeDevice sets it), and
// reads it without one.
func TestDeviceLoadMaps(t *testing.T) {
	requireORT(t)
	g := guard(t)
	dir, file := writeAddBig(t, make([]float32, mapMinBytes/4+1024))
	var maps []string
	onMap = func(path string) { maps = append(maps, path) }
	defer func() { onMap = nil }()
	for _, guarded := range []bool{true, false} {
		maps = nil
		regions := shm.NewRegionTable()
		if guarded {
			regions.Guard = g
		}
		d, err := New(Config{Name: "cpu", Devices: []string{"CPU"}}, &device.Env{Logger: quietLog(), Regions: regions})
		if err != nil {
			t.Fatal(err)
		}
		key := device.ModelKey{Name: "add_big", Version: 1}
		if _, err := d.Load(context.Background(), &device.LoadRequest{Model: key, Path: dir, TargetDevice: "CPU"}); err != nil {
			t.Fatal(err)
		}
		if err := d.Unload(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		if mapped := len(maps) == 1 && maps[0] == file; mapped != guarded {
			t.Errorf("guard set %v: the load mapped %v", guarded, maps)
		}
	}
}

// TestMappedIRLoad: an IR model whose .bin is mapped (handed to ONNX
// Runtime as the external file of its initializers) computes with its
// weights after the mapping is gone; a .bin cut while the IR is parsed
// fails the load naming it.
func TestMappedIRLoad(t *testing.T) {
	requireORT(t)
	g := guard(t)
	n := mapMinBytes/4 + 1024
	c := make([]float32, n)
	for i := range c {
		c[i] = float32(i%997) / 7
	}
	raw := make([]byte, 0, 4*n)
	for _, v := range c {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	write := func() (dir, bin string) {
		net := irtest.New("add_big_ir")
		x := net.Parameter("x", irmodel.F32, fmt.Sprintf("1,%d", n))
		k := net.Const(irmodel.F32, []int64{1, int64(n)}, raw)
		y := net.Op("Add", "opset1", nil, []irtest.Out{x, k}, irtest.Port{Type: irmodel.F32, Shape: fmt.Sprintf("1,%d", n), Names: "y"})
		net.Result(y[0], "y")
		dir = filepath.Join(t.TempDir(), "add_big_ir", "1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := net.WriteFiles(dir, "model"); err != nil {
			t.Fatal(err)
		}
		return dir, filepath.Join(dir, "model.bin")
	}
	dir, bin := write()
	var maps []string
	onMap = func(path string) { maps = append(maps, path) }
	loaded, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{guard: g}, quietLog())
	onMap = nil
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.close()
	if len(maps) != 1 || maps[0] != bin {
		t.Errorf("the IR load mapped %v, want [%s]", maps, bin)
	}
	checkAddC(t, loaded, c)

	dir, bin = write()
	onMap = func(path string) {
		if err := os.Truncate(path, 4096); err != nil {
			t.Error(err)
		}
	}
	defer func() { onMap = nil }()
	if m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{guard: g}, quietLog()); err == nil {
		m.close()
		t.Fatal("an IR whose .bin was cut during the load loaded")
	} else if !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("load error %q, want it to name %s as truncated", err, bin)
	}
}
