package tensor

import (
	"bytes"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

func strIn(shape Shape, s ...string) Input {
	in := Input{Name: "in", DType: device.String, DTypeName: "BYTES", Shape: shape}
	for _, x := range s {
		in.Strings = append(in.Strings, []byte(x))
	}
	return in
}

func TestStringsTo2DU8(t *testing.T) {
	dyn := []device.TensorInfo{{Name: "in", DType: device.Uint8, Shape: []int64{-1, -1}}}
	req := &Request{API: KServe, Inputs: []Input{strIn(Shape{3}, "abc", "", "hello")}}
	if err := Validate(dyn, req); err != nil {
		t.Fatal(err)
	}
	in := req.Inputs[0]
	want := []byte("abc\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00" + "hello\x00")
	if in.DType != device.Uint8 || !in.Shape.Equal(Shape{3, 6}) || !in.HasRaw || !bytes.Equal(in.Raw, want) || in.Strings != nil {
		t.Fatalf("converted to %v %v %q (strings %v)", in.DType, in.Shape, in.Raw, in.Strings)
	}

	static := []device.TensorInfo{{Name: "in", DType: device.Uint8, Shape: []int64{2, 6}}}
	for _, c := range []struct {
		name  string
		model []device.TensorInfo
		in    Input
		api   API
		want  string
	}{
		{"fits", static, strIn(Shape{2}, "hello", "a"), TFS, ""},
		{"rank tfs", dyn, strIn(Shape{1, 2}, "a", "b"), TFS, "Invalid number of shape dimensions - Expected number of binary input shape dimensions: 1; Actual: 2; input name: in"},
		{"rank kserve", dyn, strIn(Shape{1, 2}, "a", "b"), KServe, "Invalid number of shape dimensions - Expected number of input shape dimensions: 1; Actual: 2; input name: in"},
		{"declared batch", dyn, strIn(Shape{3}, "a", "b"), KServe, "Invalid input batch size"},
		{"model batch", static, strIn(Shape{3}, "a", "b", "c"), KServe, "Invalid input batch size - Expected: 2; Actual: 3; input name: in"},
		{"width", static, strIn(Shape{2}, "a", "toolong"), KServe, "Invalid input shape - Expected batch size: 2; got: 2; Expected max null terminated string length: 6; got: 8; input name: in"},
		{"empty", dyn, strIn(Shape{0}), KServe, "Invalid input batch size"},
		{"negative", dyn, strIn(Shape{-1}, "a"), KServe, "Invalid input shape - Negative or zero dimension size is not acceptable: (-1); input name: in"},
		{"fp32 2-D", []device.TensorInfo{{Name: "in", DType: device.Float32, Shape: []int64{1, 10}}}, strIn(Shape{1}, "a"), KServe,
			"Invalid input precision - Expected: FP32; Actual: BYTES; input name: in"},
		{"native", []device.TensorInfo{{Name: "in", DType: device.String, Shape: []int64{-1}}}, strIn(Shape{2}, "a", "b"), KServe, ""},
	} {
		err := Validate(c.model, &Request{API: c.api, Inputs: []Input{c.in}})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
