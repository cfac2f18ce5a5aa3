package tensor

import (
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

// TestValidateRanges: a model input with dimension ranges (an OpenVINO
// IR's "1..4,10") takes sizes inside them and refuses others as OVMS's
// Dimension::match: the first dimension with INVALID_BATCH_SIZE, any
// other with INVALID_SHAPE, the ranges written "[1~4]".
func TestValidateRanges(t *testing.T) {
	model := []device.TensorInfo{
		{Name: "x", DType: device.Float32, Shape: []int64{-1, 10}, ShapeMin: []int64{1, 10}, ShapeMax: []int64{4, 10}},
		{Name: "z", DType: device.Float32, Shape: []int64{-1, -1, 3}, ShapeMin: []int64{-1, 2, 3}, ShapeMax: []int64{-1, 6, 3}},
	}
	in := func(x, z Shape) []Input {
		return []Input{
			{Name: "x", DType: device.Float32, DTypeName: "FP32", Shape: x, Raw: make([]byte, 4*max(x.Elements(), 0)), HasRaw: true},
			{Name: "z", DType: device.Float32, DTypeName: "FP32", Shape: z, Raw: make([]byte, 4*max(z.Elements(), 0)), HasRaw: true},
		}
	}
	cases := []struct {
		name string
		x, z Shape
		want string
	}{
		{"low", Shape{1, 10}, Shape{7, 2, 3}, ""},
		{"high", Shape{4, 10}, Shape{1, 6, 3}, ""},
		{"batch over", Shape{5, 10}, Shape{1, 2, 3}, "Invalid input batch size - Expected: [1~4]; Actual: 5; input name: x"},
		{"batch zero", Shape{0, 10}, Shape{1, 2, 3}, "Invalid input batch size - Expected: [1~4]; Actual: 0; input name: x"},
		{"static", Shape{2, 11}, Shape{1, 2, 3}, "Invalid input shape - Expected: ([1~4],10); Actual: (2,11); input name: x"},
		{"inner under", Shape{2, 10}, Shape{1, 1, 3}, "Invalid input shape - Expected: (-1,[2~6],3); Actual: (1,1,3); input name: z"},
		{"inner over", Shape{2, 10}, Shape{9, 7, 3}, "Invalid input shape - Expected: (-1,[2~6],3); Actual: (9,7,3); input name: z"},
		{"rank", Shape{2, 10, 1}, Shape{1, 2, 3}, "Invalid number of shape dimensions - Expected: ([1~4],10); Actual: (2,10,1); input name: x"},
	}
	for _, c := range cases {
		err := Validate(model, &Request{API: KServe, Inputs: in(c.x, c.z)})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
