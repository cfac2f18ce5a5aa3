package rest

import (
	"bytes"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

func TestEncodeInferJSON(t *testing.T) {
	a := tensor.Output{Name: "a", DType: device.Float32, Shape: tensor.Shape{1, 10}, Data: f32Bytes(seq(10, 2)...)}
	tests := []struct {
		name string
		resp *tensor.Response
		id   string
		want string
	}{
		{"dummy", response(a), "",
			"{\n    \"model_name\": \"dummy\",\n    \"model_version\": \"1\",\n    \"outputs\": [{\n            \"name\": \"a\",\n            \"shape\": [1, 10],\n" +
				"            \"datatype\": \"FP32\",\n            \"data\": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]\n        }]\n}"},
		{"id, doubles and several outputs", response(
			tensor.Output{Name: "f", DType: device.Float32, Shape: tensor.Shape{3}, Data: f32Bytes(0.1, 1e30, 1.5e-7)},
			tensor.Output{Name: "s", DType: device.String, Shape: tensor.Shape{2}, Data: lenPrefixed("x", "\"")},
			tensor.Output{Name: "u", DType: device.Uint8, Shape: tensor.Shape{1}, Data: []byte{200}},
		), "req-1",
			"{\n    \"model_name\": \"dummy\",\n    \"id\": \"req-1\",\n    \"model_version\": \"1\",\n    \"outputs\": [{\n" +
				"            \"name\": \"f\",\n            \"shape\": [3],\n            \"datatype\": \"FP32\",\n            \"data\": [0.10000000149011612, 1.0000000150474662e30, 1.500000053056283e-7]\n        }, {\n" +
				"            \"name\": \"s\",\n            \"shape\": [2],\n            \"datatype\": \"BYTES\",\n            \"data\": [\"x\", \"\\\"\"]\n        }, {\n" +
				"            \"name\": \"u\",\n            \"shape\": [1],\n            \"datatype\": \"UINT8\",\n            \"data\": [200]\n        }]\n}"},
		{"superset: fp16 and bool", response(
			tensor.Output{Name: "b", DType: device.Bool, Shape: tensor.Shape{2}, Data: []byte{0, 1}},
			tensor.Output{Name: "h", DType: device.Float16, Shape: tensor.Shape{1}, Data: []byte{0x00, 0x3E}},
		), "",
			"{\n    \"model_name\": \"dummy\",\n    \"model_version\": \"1\",\n    \"outputs\": [{\n            \"name\": \"b\",\n            \"shape\": [2],\n" +
				"            \"datatype\": \"BOOL\",\n            \"data\": [false, true]\n        }, {\n            \"name\": \"h\",\n            \"shape\": [1],\n" +
				"            \"datatype\": \"FP16\",\n            \"data\": [1.5]\n        }]\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := EncodeInfer(tt.resp, tt.id, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := enc.HeaderLength(); ok {
				t.Fatal("no binary outputs were asked for")
			}
			var b bytes.Buffer
			if n, err := enc.WriteTo(&b); err != nil || n != int64(b.Len()) {
				t.Fatalf("WriteTo: %d, %v", n, err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestEncodeInferBinaryOutputs(t *testing.T) {
	resp := response(
		tensor.Output{Name: "a", DType: device.Int32, Shape: tensor.Shape{2}, Data: i32Bytes(1, 2)},
		tensor.Output{Name: "b", DType: device.Float32, Shape: tensor.Shape{1}, Data: f32Bytes(0.5)},
		tensor.Output{Name: "s", DType: device.String, Shape: tensor.Shape{1}, Data: lenPrefixed("hi")},
	)
	enc, err := EncodeInfer(resp, "", map[string]bool{"a": true, "s": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	js := "{\n    \"model_name\": \"dummy\",\n    \"model_version\": \"1\",\n    \"outputs\": [{\n            \"name\": \"a\",\n            \"shape\": [2],\n" +
		"            \"datatype\": \"INT32\",\n            \"parameters\": {\n                \"binary_data_size\": 8\n            }\n        }, {\n" +
		"            \"name\": \"b\",\n            \"shape\": [1],\n            \"datatype\": \"FP32\",\n            \"data\": [0.5]\n        }, {\n" +
		"            \"name\": \"s\",\n            \"shape\": [1],\n            \"datatype\": \"BYTES\",\n            \"parameters\": {\n                \"binary_data_size\": 6\n            }\n        }]\n}"
	n, ok := enc.HeaderLength()
	if !ok || n != len(js) {
		t.Fatalf("header length %d %v, want %d", n, ok, len(js))
	}
	var b bytes.Buffer
	if _, err := enc.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := js + string(i32Bytes(1, 2)) + string(lenPrefixed("hi"))
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestEncodeInferErrors(t *testing.T) {
	tests := []struct {
		name   string
		resp   *tensor.Response
		status int
		msg    string
	}{
		{"no outputs", response(), 500, "Response parsing to JSON error"},
		{"size mismatch", response(tensor.Output{Name: "a", DType: device.Int32, Shape: tensor.Shape{2}, Data: i32Bytes(1)}), 500, "Size of data in tensor_content does not match declared tensor shape"},
		{"bad strings", response(tensor.Output{Name: "s", DType: device.String, Shape: tensor.Shape{1}, Data: []byte{9, 0, 0, 0, 'x'}}), 500, "Internal server error - output s"},
		{"unknown dtype", response(tensor.Output{Name: "a", DType: device.Invalid, Shape: tensor.Shape{1}}), 400, "Could not parse input content. Unsupported data precision detected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeInfer(tt.resp, "", nil, nil)
			status, msg := errText(err)
			if status != tt.status || msg != tt.msg {
				t.Errorf("got %d %q, want %d %q", status, msg, tt.status, tt.msg)
			}
		})
	}
}
