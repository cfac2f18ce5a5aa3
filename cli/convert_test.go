package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// convertNet is b [?,10] f32 -> a = b*2 + 1, as IR.
func convertNet() *irtest.Net {
	n := irtest.New("twice_plus_one")
	b := n.Parameter("b", irmodel.F32, "?,10")
	two := n.F32([]int64{1}, 2)
	m := n.Op("Multiply", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{b, two},
		irtest.Port{Type: irmodel.F32, Shape: "?,10"})[0]
	one := n.F32([]int64{1}, 1)
	a := n.Op("Add", "opset1", map[string]string{"auto_broadcast": "numpy"}, []irtest.Out{m, one},
		irtest.Port{Type: irmodel.F32, Shape: "?,10", Names: "a"})[0]
	n.Result(a, "a/sink_port_0")
	return n
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"ovms"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestConvertWritesAModelORTRuns: `ovms convert` writes an ONNX file that
// ONNX Runtime loads and that computes what the IR says, and prints the
// ops it translated.
func TestConvertWritesAModelORTRuns(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	if err := convertNet().WriteFiles(dir, "model"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sub", "model.onnx")
	code, stdout, stderr := runCLI("convert", filepath.Join(dir, "model.xml"), "-o", out, "--opset", "18")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{`ONNX opset 18`, `Add-opset1\s+1\n`, `Multiply-opset1\s+1\n`, `Const-opset1\s+2\n`, `input\s+b\s+f32\s+\[\?,10\]`, `output\s+a\s+f32`} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the converted file: %v", err)
	}
	defer s.Close()
	raw := make([]byte, 0, 4*30)
	for i := range 30 {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(i)-7))
	}
	in, err := ort.NewTensorCopy(ort.Float32, []int64{3, 10}, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outs := make([]*ort.Value, 1)
	if err := s.Run([]string{"b"}, []*ort.Value{in}, []string{"a"}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Close()
	got := outs[0].Bytes()
	for i := range 30 {
		if v, want := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:])), (float32(i)-7)*2+1; v != want {
			t.Fatalf("a[%d] = %v, want %v", i, v, want)
		}
	}
}

// TestConvertListsEveryUntranslatedOp: a model with two ops ovms cannot
// translate fails (exit 1), lists both with their layers, and writes
// nothing.
func TestConvertListsEveryUntranslatedOp(t *testing.T) {
	dir := t.TempDir()
	n := irtest.New("bad")
	x := n.Parameter("x", irmodel.F32, "1,2")
	y := n.Op("FancyOp", "opset99", nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "1,2"})[0]
	z := n.Op("OtherOp", "opset7", nil, []irtest.Out{y}, irtest.Port{Type: irmodel.F32, Shape: "1,2"})[0]
	n.Result(z, "z")
	if err := n.WriteFiles(dir, "model"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "model.onnx")
	code, stdout, stderr := runCLI("convert", filepath.Join(dir, "model.xml"), "-o", out)
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"FancyOp-opset99 (layer 'fancyop_1')", "OtherOp-opset7 (layer 'otherop_2')", "2 operations untranslated"} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("output lacks %q:\n%s%s", want, stdout, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed conversion wrote its output")
	}
}

// TestConvertUsage: missing -o, a bad opset and a missing argument are
// usage errors (exit 64); a missing file is a failure naming it.
func TestConvertUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"convert", "m.xml"},
		{"convert", "-o", "m.onnx"},
		{"convert", "m.xml", "-o", "m.onnx", "--opset", "12"},
		{"convert", "m.xml", "-o", "m.xml"},
	} {
		if code, stdout, stderr := runCLI(args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want 64: %s%s", args, code, stdout, stderr)
		}
	}
	missing := filepath.Join(dir, "none.xml")
	code, _, stderr := runCLI("convert", missing, "-o", filepath.Join(dir, "x.onnx"))
	if code != ExitFailure || !strings.Contains(stderr, missing) {
		t.Errorf("missing file: exit %d: %s", code, stderr)
	}
}
