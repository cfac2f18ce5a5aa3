package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolveShape(t *testing.T) {
	in := TensorInfo{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3, -1}}
	tests := []struct {
		name      string
		overrides map[string][]int64
		want      []int64
		wantErr   string
	}{
		{"dynamic dims become 1", nil, []int64{1, 3, 1}, ""},
		{"override", map[string][]int64{"x": {8, 3, 224}}, []int64{8, 3, 224}, ""},
		{"other input's override", map[string][]int64{"y": {2}}, []int64{1, 3, 1}, ""},
		{"rank mismatch", map[string][]int64{"x": {8, 3}}, nil, "rank"},
		{"static dim mismatch", map[string][]int64{"x": {8, 4, 2}}, nil, "disagrees"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveShape(in, tt.overrides)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
	if in.Shape[0] != -1 {
		t.Error("resolveShape changed the metadata")
	}
}

var specs = []TensorInfo{
	{Name: "f", Datatype: "FP16", Shape: []int64{2, -1}},
	{Name: "i", Datatype: "INT64", Shape: []int64{3}},
	{Name: "s", Datatype: "BYTES", Shape: []int64{-1}},
}

func TestMakeInputsGenerated(t *testing.T) {
	cfg := Config{InputData: "random", Seed: 5, StringLength: 4, Shapes: map[string][]int64{"f": {2, 5}, "s": {3}}}
	a, err := makeInputs(cfg, specs)
	if err != nil {
		t.Fatal(err)
	}
	if len(a[0].raw) != 2*5*2 || len(a[1].raw) != 3*8 || len(a[2].strs) != 3 || len(a[2].strs[0]) != 4 {
		t.Fatalf("sizes: %d %d %d", len(a[0].raw), len(a[1].raw), len(a[2].strs))
	}
	if a[2].Bytes != 3*(4+4) || a[0].Bytes != 20 {
		t.Errorf("reported bytes %d %d", a[0].Bytes, a[2].Bytes)
	}
	b, _ := makeInputs(cfg, specs)
	cfg.Seed = 6
	c, _ := makeInputs(cfg, specs)
	if !slices.Equal(a[0].raw, b[0].raw) || slices.Equal(a[0].raw, c[0].raw) {
		t.Error("random data: same seed should repeat, another seed should differ")
	}
	cfg.InputData = "zero"
	z, _ := makeInputs(cfg, specs)
	if slices.ContainsFunc(z[1].raw, func(b byte) bool { return b != 0 }) || string(z[2].strs[0]) != "aaaa" {
		t.Errorf("zero data: %x %q", z[1].raw, z[2].strs[0])
	}
	if _, err := makeInputs(Config{InputData: "zero", Shapes: map[string][]int64{"nope": {1}}}, specs); err == nil {
		t.Error("a --shape for an unknown input was accepted")
	}
}

func TestMakeInputsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	js := write("in.json", `{"f": [[1, 0.5], [-2, 0]], "i": [1, 2, 3], "s": ["hi", "there"]}`)
	ins, err := makeInputs(Config{InputData: js, Shapes: map[string][]int64{"f": {2, 2}, "s": {2}}}, specs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0x3c, 0, 0x38, 0, 0xc0, 0, 0}; !slices.Equal(ins[0].raw, want) {
		t.Errorf("FP16 from JSON %x, want %x", ins[0].raw, want)
	}
	if ins[1].raw[8] != 2 || string(ins[2].strs[1]) != "there" {
		t.Errorf("INT64 %x, BYTES %q", ins[1].raw, ins[2].strs)
	}
	if _, err := makeInputs(Config{InputData: js}, specs); err == nil || !strings.Contains(err.Error(), "needs 2") {
		t.Errorf("count mismatch: %v", err)
	}

	one := []TensorInfo{{Name: "b", Datatype: "FP32", Shape: []int64{1, 2}}}
	raw := write("b.bin", "\x00\x00\x80\x3f\x00\x00\x00\x40")
	for _, src := range []string{raw, "b=" + raw} {
		ins, err := makeInputs(Config{InputData: src}, one)
		if err != nil || !slices.Equal(f32s(ins[0].raw), []float32{1, 2}) {
			t.Errorf("%s: %v %v", src, ins, err)
		}
	}
	short := write("short.bin", "\x00\x00")
	bad := []struct{ src, want string }{
		{short, "holds 2 bytes"},
		{"b=" + filepath.Join(dir, "missing.bin"), "no such file"},
		{"c=" + raw, "no file for input b"},
		{"b=", "want name=path"},
	}
	for _, b := range bad {
		if _, err := makeInputs(Config{InputData: b.src}, one); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want %q", b.src, err, b.want)
		}
	}
	if _, err := makeInputs(Config{InputData: raw}, specs); err == nil || !strings.Contains(err.Error(), "3 inputs") {
		t.Errorf("bare path for 3 inputs: %v", err)
	}
	strs := write("s.bin", "\x02\x00\x00\x00hi\x00\x00\x00\x00")
	sIns, err := makeInputs(Config{InputData: "s=" + strs, Shapes: map[string][]int64{"s": {2}}}, specs[2:])
	if err != nil || len(sIns[0].strs) != 2 || string(sIns[0].strs[0]) != "hi" {
		t.Errorf("BYTES raw: %v %v", sIns, err)
	}
}
