package rest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

func response(outs ...tensor.Output) *tensor.Response {
	return tensor.NewResponse("dummy", 1, outs, nil)
}

func TestWritePredictLayouts(t *testing.T) {
	a := tensor.Output{Name: "a", DType: device.Float32, Shape: tensor.Shape{1, 10}, Data: f32Bytes(seq(10, 2)...)}
	a2 := tensor.Output{Name: "a", DType: device.Float32, Shape: tensor.Shape{2, 2}, Data: f32Bytes(0.1, 1234567, 1e-5, 9e6)}
	col := "{\n    \"outputs\": [\n        [\n"
	for i, v := range []string{"2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "8.0", "9.0", "10.0", "11.0"} {
		col += "            " + v
		if i < 9 {
			col += ","
		}
		col += "\n"
	}
	col += "        ]\n    ]\n}"
	tests := []struct {
		name  string
		resp  *tensor.Response
		order Order
		want  string
	}{
		{"row, dummy", response(a), OrderRow,
			"{\n    \"predictions\": [[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n    ]\n}"},
		{"row, batch of two", response(a2), OrderRow,
			"{\n    \"predictions\": [[0.1, 1234567.0], [1e-05, 9e+06]\n    ]\n}"},
		{"column, dummy", response(a), OrderColumn, col},
		{"row, two outputs", response(
			tensor.Output{Name: "z", DType: device.Int64, Shape: tensor.Shape{2}, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
			tensor.Output{Name: "s_bytes", DType: device.String, Shape: tensor.Shape{2}, Data: lenPrefixed("hi", "")},
		), OrderRow,
			"{\n    \"predictions\": [\n        {\n            \"s_bytes\": {\n                \"b64\": \"aGk=\"\n            },\n            \"z\": 1\n        },\n" +
				"        {\n            \"s_bytes\": {\n                \"b64\": \"\"\n            },\n            \"z\": -1\n        }\n    ]\n}"},
		{"column, two outputs, scalar and strings", response(
			tensor.Output{Name: "n", DType: device.Float64, Shape: tensor.Shape{}, Data: []byte{0, 0, 0, 0, 0, 0, 0xF8, 0x7F}},
			tensor.Output{Name: "t", DType: device.String, Shape: tensor.Shape{1}, Data: lenPrefixed("a\"\x00")},
		), OrderColumn,
			"{\n    \"outputs\": {\n        \"n\": NaN,\n        \"t\": [\n            \"a\\\"\\u0000\"\n        ]\n    }\n}"},
		{"superset types", response(
			tensor.Output{Name: "b", DType: device.Bool, Shape: tensor.Shape{1, 2}, Data: []byte{1, 0}},
			tensor.Output{Name: "h", DType: device.Float16, Shape: tensor.Shape{1, 1}, Data: []byte{0x00, 0x3E}},
			tensor.Output{Name: "u", DType: device.Uint16, Shape: tensor.Shape{1, 1}, Data: []byte{0xFF, 0xFF}},
		), OrderRow,
			"{\n    \"predictions\": [\n        {\n            \"b\": [true, false],\n            \"h\": [1.5],\n            \"u\": [65535]\n        }\n    ]\n}"},
		{"no elements", response(tensor.Output{Name: "e", DType: device.Float32, Shape: tensor.Shape{0, 3}}), OrderRow,
			"{\n    \"predictions\": []\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WritePredict(&b, tt.resp, tt.order); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestWritePredictErrorsBeforeWriting(t *testing.T) {
	tests := []struct {
		name   string
		resp   *tensor.Response
		order  Order
		status int
		msg    string
	}{
		{"no outputs", response(), OrderColumn, 500, "Response parsing to JSON error"},
		{"row needs a batch dimension", response(tensor.Output{Name: "s", DType: device.Int32, Shape: tensor.Shape{}, Data: i32Bytes(1)}), OrderRow, 500, "Response parsing to JSON error"},
		{"row needs one batch size", response(
			tensor.Output{Name: "a", DType: device.Int32, Shape: tensor.Shape{1}, Data: i32Bytes(1)},
			tensor.Output{Name: "b", DType: device.Int32, Shape: tensor.Shape{2}, Data: i32Bytes(1, 2)},
		), OrderRow, 500, "Response parsing to JSON error"},
		{"size mismatch", response(tensor.Output{Name: "a", DType: device.Int32, Shape: tensor.Shape{3}, Data: i32Bytes(1)}), OrderColumn, 500, "Size of data in tensor_content does not match declared tensor shape"},
		{"unknown dtype", response(tensor.Output{Name: "a", DType: device.Invalid, Shape: tensor.Shape{1}}), OrderColumn, 400, "Could not parse input content. Unsupported data precision detected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WritePredict(&b, tt.resp, tt.order)
			status, msg := errText(err)
			if status != tt.status || msg != tt.msg || b.Len() != 0 {
				t.Errorf("got %d %q (%d bytes written), want %d %q", status, msg, b.Len(), tt.status, tt.msg)
			}
		})
	}
}

func BenchmarkWritePredictColumn(b *testing.B) {
	vals := make([]float32, 1<<16)
	for i := range vals {
		vals[i] = float32(i) * 0.001
	}
	resp := response(tensor.Output{Name: "a", DType: device.Float32, Shape: tensor.Shape{1, int64(len(vals))}, Data: f32Bytes(vals...)})
	var out strings.Builder
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out.Reset()
		if err := WritePredict(&out, resp, OrderColumn); err != nil {
			b.Fatal(err)
		}
	}
}
