package tensor

import (
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

func TestValidateOrderAndMessages(t *testing.T) {
	model := []device.TensorInfo{
		{Name: "b", DType: device.Float32, Shape: []int64{1, 10}},
		{Name: "a", DType: device.Int64, Shape: []int64{-1, 3}},
	}
	good := func() []Input {
		return []Input{
			{Name: "b", DType: device.Float32, DTypeName: "FP32", Shape: Shape{1, 10}, Raw: make([]byte, 40), HasRaw: true},
			{Name: "a", DType: device.Int64, DTypeName: "I64", Shape: Shape{2, 3}, Values: Numbers[int64]{1, 2, 3, 4, 5, 6}},
		}
	}
	cases := []struct {
		name string
		edit func([]Input) []Input
		api  API
		want string
	}{
		{"ok", func(in []Input) []Input { return in }, TFS, ""},
		{"count", func(in []Input) []Input { return in[:1] }, TFS, "Invalid number of inputs - Expected: 2; Actual: 1"},
		{"none", func(in []Input) []Input { return nil }, TFS, "Invalid number of inputs - Expected: 2; Actual: 0"},
		{"missing", func(in []Input) []Input { in[1].Name = "c"; return in }, TFS, "Missing input with specific name - Required input: a"},
		// a is checked before b (name order), so b's error does not show.
		{"order", func(in []Input) []Input {
			in[0].Shape = Shape{1, 9}
			in[1].DType = device.Int32
			in[1].DTypeName = "I32"
			return in
		},
			TFS, "Invalid input precision - Expected: I64; Actual: I32; input name: a"},
		{"negative", func(in []Input) []Input { in[1].Shape = Shape{-2, 3}; return in }, TFS, "Invalid input shape - Negative or zero dimension size is not acceptable: (-2,3); input name: a"},
		{"zero", func(in []Input) []Input { in[1].Shape = Shape{0, 3}; in[1].Values = Numbers[int64]{}; return in }, KServe, "Invalid input shape - Negative or zero dimension size is not acceptable: (0,3); input name: a"},
		{"empty allowed", func(in []Input) []Input { in[1].Shape = Shape{0, 3}; in[1].Values = Numbers[int64]{}; return in }, KServe, ""},
		{"zero before precision", func(in []Input) []Input { in[0].Shape = Shape{1, 0}; in[0].DType = device.Int8; return in }, TFS, "Invalid input shape - Negative or zero dimension size is not acceptable: (1,0); input name: b"},
		{"rank", func(in []Input) []Input { in[0].Shape = Shape{10}; return in }, TFS, "Invalid number of shape dimensions - Expected: (1,10); Actual: (10); input name: b"},
		{"batch", func(in []Input) []Input { in[0].Shape = Shape{2, 10}; return in }, TFS, "Invalid input batch size - Expected: 1; Actual: 2; input name: b"},
		{"shape", func(in []Input) []Input { in[1].Shape = Shape{2, 4}; return in }, TFS, "Invalid input shape - Expected: (-1,3); Actual: (2,4); input name: a"},
		{"content", func(in []Input) []Input { in[0].Raw = in[0].Raw[:39]; return in }, TFS, "Invalid content size of tensor proto - Expected: 40 bytes; Actual: 39 bytes; input name: b"},
		{"values tfs", func(in []Input) []Input { in[1].Values = Numbers[int64]{1}; return in }, TFS, "Invalid number of values in tensor proto container - Expected: 6; Actual: 1; input name: a"},
		{"values kserve", func(in []Input) []Input { in[1].Values = nil; return in }, KServe, "Invalid number of values in tensor proto container - Expected: 6 values; Actual: 0 values; input name: a"},
		{"overflow", func(in []Input) []Input { in[1].Shape = Shape{1 << 62, 3}; return in }, TFS, "Invalid number of values in tensor proto container - Expected: 13835058055282163712; Actual: 6; input name: a"},
	}
	for _, c := range cases {
		err := Validate(model, &Request{API: c.api, Inputs: c.edit(good()), NoEmpty: strings.HasPrefix(c.name, "zero")})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestWriteToConvertsAndPacksStrings(t *testing.T) {
	in := Input{Values: Numbers[float64]{1.9, -2.5, 300}}
	dst := make([]byte, 3)
	if err := in.WriteTo(dst, device.Uint8); err != nil {
		t.Fatal(err)
	}
	// Plain casts, as OVMS does: 1.9 -> 1, -2.5 -> 254 (via int), 300 -> 44.
	if dst[0] != 1 || dst[2] != 44 {
		t.Errorf("uint8 conversion %v", dst)
	}
	s := Input{Strings: [][]byte{[]byte("ab"), nil}}
	n := s.ByteSize(device.String)
	buf := make([]byte, n)
	s.WriteTo(buf, device.String)
	back, err := SplitStrings(buf, "s")
	if n != 10 || err != nil || len(back) != 2 || string(back[0]) != "ab" || len(back[1]) != 0 {
		t.Errorf("strings round trip: %d %q %v", n, back, err)
	}
	if _, err := SplitStrings([]byte{5, 0, 0, 0, 'x'}, "s"); err == nil {
		t.Error("truncated string accepted")
	}
}
