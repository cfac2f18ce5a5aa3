package ortdevice

// Tests of OpenVINO IR version folders: which files are picked, that an IR
// model loads and runs, and that bad IR fails naming the file and layer.

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/device"
)

// plusOne is b [?,10] f32 -> a = b + 1, as IR.
func plusOne() *irtest.Net {
	n := irtest.New("dummy")
	b := n.Parameter("b", irmodel.F32, "?,10")
	one := n.F32([]int64{1}, 1)
	a := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{b, one},
		irtest.Port{Type: irmodel.F32, Shape: "?,10", Names: "a,a:0"})[0]
	n.Result(a, "a/sink_port_0")
	return n
}

func writeIR(t *testing.T, dir string, n *irtest.Net) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFiles(dir, "model"); err != nil {
		t.Fatal(err)
	}
}

func writeONNXIdentity(t *testing.T, path, name string) {
	t.Helper()
	g := om.NewGraph("id")
	g.Output(g.Input(name, om.Float32, 1, 2), name+"_out", om.Float32, 1, 2)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	if err := om.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
}

// TestModelFilesPrecedence: IR wins over ONNX when a folder holds both (as
// in OVMS); an .xml without a .bin leaves the folder to ONNX; the weights
// are the .bin named like the .xml.
func TestModelFilesPrecedence(t *testing.T) {
	dir := t.TempDir()
	touch := func(names ...string) string {
		d, err := os.MkdirTemp(dir, "v")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	for _, c := range []struct {
		files        []string
		path, bin    string
		ir           bool
		errSubstring string
	}{
		{files: []string{"m.xml", "m.bin", "m.onnx"}, path: "m.xml", bin: "m.bin", ir: true},
		{files: []string{"m.xml", "m.onnx"}, path: "m.onnx"},
		{files: []string{"m.bin", "m.onnx"}, path: "m.onnx"},
		{files: []string{"a.xml", "b.bin"}, ir: true, errSubstring: "has no weights file"},
		{files: []string{"a.xml", "a.bin", "b.xml", "b.bin"}, ir: true, errSubstring: "more than one IR model"},
		{files: []string{"a.xml", "a.bin", "b.xml"}, path: "a.xml", bin: "a.bin", ir: true},
		{files: []string{"readme.txt"}, errSubstring: "neither an OpenVINO IR model"},
	} {
		d := touch(c.files...)
		path, bin, ir, err := modelFiles(d)
		if c.errSubstring != "" {
			if err == nil || !strings.Contains(err.Error(), c.errSubstring) {
				t.Errorf("%v: err %v, want %q", c.files, err, c.errSubstring)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.files, err)
			continue
		}
		want := func(n string) string {
			if n == "" {
				return ""
			}
			return filepath.Join(d, n)
		}
		if path != want(c.path) || bin != want(c.bin) || ir != c.ir {
			t.Errorf("%v: got %s, %s, %v; want %s, %s, %v", c.files, path, bin, ir, c.path, c.bin, c.ir)
		}
	}
}

// TestLoadIR loads an IR version folder (beside an ONNX file, which loses),
// checks the metadata and runs it.
func TestLoadIR(t *testing.T) {
	requireORT(t)
	dir := filepath.Join(t.TempDir(), "1")
	writeIR(t, dir, plusOne())
	writeONNXIdentity(t, filepath.Join(dir, "other.onnx"), "x")
	m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{}, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if len(m.info.Inputs) != 1 || m.info.Inputs[0].Name != "b" || m.info.Inputs[0].DType != device.Float32 ||
		len(m.info.Outputs) != 1 || m.info.Outputs[0].Name != "a" {
		t.Fatalf("metadata %+v", m.info)
	}
	if got := m.info.Inputs[0].Shape; len(got) != 2 || got[0] != -1 || got[1] != 10 {
		t.Errorf("input shape %v, want [-1 10]", got)
	}
	raw := make([]byte, 0, 4*20)
	for i := range 20 {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(i)))
	}
	in, err := ort.NewTensorCopy(ort.Float32, []int64{2, 10}, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outs := make([]*ort.Value, 1)
	s := <-m.sessions
	err = s.Run([]string{"b"}, []*ort.Value{in}, []string{"a"}, outs)
	m.sessions <- s
	if err != nil {
		t.Fatal(err)
	}
	defer outs[0].Close()
	got := outs[0].Bytes()
	for i := range 20 {
		if v := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:])); v != float32(i)+1 {
			t.Fatalf("a[%d] = %v, want %v", i, v, i+1)
		}
	}
}

// TestLoadBadIR: bad IR fails the load with an error naming the file and,
// where the IR is at fault, the layer.
func TestLoadBadIR(t *testing.T) {
	requireORT(t)
	root := t.TempDir()
	log := logrus.NewEntry(logrus.New())
	load := func(name string, edit func(xml, bin []byte) ([]byte, []byte), n *irtest.Net) error {
		dir := filepath.Join(root, name, "1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		x, b := n.Bytes()
		x, b = edit(x, b)
		if err := os.WriteFile(filepath.Join(dir, "model.xml"), x, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{}, log)
		if m != nil {
			m.close()
		}
		return err
	}
	unknown := irtest.New("unknown")
	p := unknown.Parameter("x", irmodel.F32, "1,2")
	y := unknown.Op("FancyOp", "opset99", nil, []irtest.Out{p}, irtest.Port{Type: irmodel.F32, Shape: "1,2"})[0]
	unknown.Result(y, "y")
	replace := func(old, new string) func(x, b []byte) ([]byte, []byte) {
		return func(x, b []byte) ([]byte, []byte) {
			return []byte(strings.Replace(string(x), old, new, 1)), b
		}
	}
	for _, c := range []struct {
		name string
		net  *irtest.Net
		edit func(x, b []byte) ([]byte, []byte)
		want []string
	}{
		{"truncated", plusOne(), func(x, b []byte) ([]byte, []byte) { return x, b[:2] }, []string{"model.bin", "const_1"}},
		{"offset", plusOne(), replace(`offset="0"`, `offset="4096"`), []string{"model.xml", "const_1"}},
		{"edge", plusOne(), replace(`<edge from-layer="1" from-port="0" to-layer="2" to-port="1"/>`, ``), []string{"model.xml", "add_2", "missing an edge"}},
		{"dangling edge", plusOne(), replace(`<edge from-layer="1"`, `<edge from-layer="7"`), []string{"model.xml", `layer "7"`}},
		{"type", plusOne(), replace(`precision="FP32"`, `precision="FP33"`), []string{"model.xml", "'b'", "FP33"}},
		{"bomb", plusOne(), func(x, b []byte) ([]byte, []byte) {
			return []byte(`<?xml version="1.0"?><!DOCTYPE net [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><net name="&b;" version="11"></net>`), b
		}, []string{"model.xml", "not an IR file"}},
		{"untranslated", unknown, func(x, b []byte) ([]byte, []byte) { return x, b }, []string{"model.xml", "FancyOp-opset99", "fancyop_1"}},
	} {
		err := load(c.name, c.edit, c.net)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		t.Logf("%s: %v", c.name, err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\ndoes not name %q", c.name, err, w)
			}
		}
	}
}
