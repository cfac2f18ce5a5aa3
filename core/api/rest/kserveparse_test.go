package rest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

const dummyInfer = `{"inputs": [{"name": "b", "shape": [1, 10], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}]}`

func TestParseInferErrors(t *testing.T) {
	in := func(fields string) string { return `{"inputs": [{` + fields + `}]}` }
	const notNDArray = "Could not parse input content. Not valid ndarray detected"
	tests := []struct {
		name   string
		body   string
		hdr    int
		status int
		msg    string
	}{
		{"syntax", `{"inputs": [}`, -1, 412, "The file is not valid json - Error: Invalid value. Offset: 12"},
		{"not an object", `[]`, -1, 400, "Request body should be JSON object"},
		{"id not a string", `{"id": 5, "inputs": []}`, -1, 400, notNDArray},
		{"id is checked before inputs wherever it is", `{"inputs": [], "id": 5}`, -1, 400, notNDArray},
		{"parameters not an object", `{"parameters": [], "inputs": []}`, -1, 400, "Could not parse request parameters"},
		{"parameter double", `{"parameters": {"x": 1.5}}`, -1, 400, "Could not parse request parameters"},
		{"parameter past int32", `{"parameters": {"x": 3000000000}}`, -1, 400, "Could not parse request parameters"},
		{"parameter object", `{"parameters": {"x": {}}}`, -1, 400, "Could not parse request parameters"},
		{"outputs not an array", `{"outputs": {}, "inputs": []}`, -1, 400, notNDArray},
		{"output not an object", `{"outputs": [1]}`, -1, 400, "Could not parse output content."},
		{"output without a name", `{"outputs": [{"parameters": {}}]}`, -1, 400, "Could not parse output content."},
		{"output name not a string", `{"outputs": [{"name": 1}]}`, -1, 400, "Could not parse output content."},
		{"output parameters", `{"outputs": [{"name": "a", "parameters": {"binary_data": null}}]}`, -1, 400, "Could not parse request parameters"},
		{"no inputs", `{"id": "x"}`, -1, 400, "Invalid JSON structure, missing inputs"},
		{"inputs not an array", `{"inputs": {}}`, -1, 400, notNDArray},
		{"empty inputs", `{"inputs": []}`, -1, 400, "Invalid JSON structure, missing inputs"},
		{"input not an object", `{"inputs": [1]}`, -1, 400, notNDArray},
		{"no name", in(`"shape": [1], "datatype": "FP32", "data": [1]`), -1, 400, notNDArray},
		{"shape not an array", in(`"name": "b", "shape": 1, "datatype": "FP32", "data": [1]`), -1, 400, notNDArray},
		{"dim not an int", in(`"name": "b", "shape": [1.0], "datatype": "FP32", "data": [1]`), -1, 400, notNDArray},
		{"negative dim", in(`"name": "b", "shape": [-1], "datatype": "FP32", "data": [1]`), -1, 400, notNDArray},
		{"no datatype", in(`"name": "b", "shape": [1], "data": [1]`), -1, 400, notNDArray},
		{"input parameters", in(`"name": "b", "shape": [1], "datatype": "FP32", "parameters": 1, "data": [1]`), -1, 400, "Could not parse request parameters"},
		{"data not an array", in(`"name": "b", "shape": [1], "datatype": "FP32", "data": 1`), -1, 400, notNDArray},
		{"fp16 json data", in(`"name": "b", "shape": [1], "datatype": "FP16", "data": [1]`), -1, 400, notNDArray},
		{"unknown datatype", in(`"name": "b", "shape": [1], "datatype": "FLOAT32", "data": [1]`), -1, 400, "Could not parse input content. Unsupported data precision detected"},
		{"int32 from a double", in(`"name": "b", "shape": [1], "datatype": "INT32", "data": [1.0]`), -1, 400, notNDArray},
		{"int32 out of range", in(`"name": "b", "shape": [1], "datatype": "INT32", "data": [3000000000]`), -1, 400, notNDArray},
		{"uint8 negative", in(`"name": "b", "shape": [1], "datatype": "UINT8", "data": [-1]`), -1, 400, notNDArray},
		{"bool from a number", in(`"name": "b", "shape": [1], "datatype": "BOOL", "data": [1]`), -1, 400, notNDArray},
		{"bytes from a number", in(`"name": "b", "shape": [1], "datatype": "BYTES", "data": [[1]]`), -1, 400, notNDArray},
		{"fp32 from a string", in(`"name": "b", "shape": [1], "datatype": "FP32", "data": [[1, "2"]]`), -1, 400, notNDArray},
		{"bytes without data among two inputs", `{"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES"}, {"name": "b", "shape": [1], "datatype": "FP32", "data": [1]}]}`, -1, 400, notNDArray},
		{"bytes without data, shape not [1]", in(`"name": "b", "shape": [2], "datatype": "BYTES"`), -1, 400, notNDArray},
		{"header length past the body", dummyInfer, len(dummyInfer) + 1, 400, "Inference-Header-Content-Length header value exceeds the request body size"},
		{"binary size with data", in(`"name": "b", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}`), -1, 400, "Request contains values both in binary data and in content value"},
		{"binary size not an int", in(`"name": "b", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": "4"}`), -1, 400, "binary_data_size parameter is invalid and cannot be parsed"},
		{"binary buffer too small", in(`"name": "b", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}`), -1, 400, "Received buffer size is smaller than binary_data_size parameter indicates"},
		{"no data and no buffer", in(`"name": "b", "shape": [1], "datatype": "FP32"`), -1, 400, "Received buffer size is smaller than binary_data_size parameter indicates"},
		{"negative binary size", in(`"name": "b", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": -4}`), -1, 400, "Received buffer size is smaller than binary_data_size parameter indicates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInfer([]byte(tt.body), tt.hdr, ParseLimits{})
			status, msg := errText(err)
			if status != tt.status || msg != tt.msg {
				t.Errorf("got %d %q, want %d %q", status, msg, tt.status, tt.msg)
			}
		})
	}
}

func TestParseInferInputs(t *testing.T) {
	withBinary := func(js string, bin []byte) ([]byte, int) { return append([]byte(js), bin...), len(js) }
	type want struct {
		name  string
		dtype tensor.DataType
		shape tensor.Shape
		data  []byte
		strs  []string
	}
	u64 := make([]byte, 8)
	binary.LittleEndian.PutUint64(u64, math.MaxUint64)
	i64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(i64, uint64(1)<<40)
	binary.LittleEndian.PutUint64(i64[8:], uint64(math.MaxUint64))
	tests := []struct {
		name    string
		body    string
		bin     []byte
		id      string
		binOuts map[string]bool
		want    []want
	}{
		{"dummy", dummyInfer, nil, "", nil, []want{{"b", device.Float32, tensor.Shape{1, 10}, f32Bytes(seq(10, 1)...), nil}}},
		{"nested data, id, ints", `{"id": "r\u00001", "inputs": [{"name": "i", "shape": [2, 2], "datatype": "INT8", "data": [[1, -2], [[3], 4]]}]}`, nil, "r", nil,
			[]want{{"i", device.Int8, tensor.Shape{2, 2}, []byte{1, 0xFE, 3, 4}, nil}}},
		{"superset: 64-bit integers", `{"inputs": [{"name": "i", "shape": [2], "datatype": "INT64", "data": [1099511627776, -1]}, {"name": "u", "shape": [1], "datatype": "UINT64", "data": [18446744073709551615]}]}`, nil, "", nil,
			[]want{{"i", device.Int64, tensor.Shape{2}, i64, nil}, {"u", device.Uint64, tensor.Shape{1}, u64, nil}}},
		{"bool and bytes", `{"inputs": [{"name": "f", "shape": [2], "datatype": "BOOL", "data": [true, false]}, {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["ab", "c\u0000d"]}]}`, nil, "", nil,
			[]want{{"f", device.Bool, tensor.Shape{2}, []byte{1, 0}, nil}, {"s", device.String, tensor.Shape{2}, nil, []string{"ab", "c"}}}},
		// OVMS keeps only the last entry; ovms honours every listed output.
		{"every listed output counts", `{"outputs": [{"name": "a", "parameters": {"binary_data": true}}, {"name": "b", "parameters": {"binary_data": true}}], ` + dummyInfer[1:], nil, "",
			map[string]bool{"a": true, "b": true}, []want{{"b", device.Float32, tensor.Shape{1, 10}, f32Bytes(seq(10, 1)...), nil}}},
		{"binary_data_output is the default", `{"parameters": {"binary_data_output": true}, "outputs": [{"name": "a"}, {"name": "c", "parameters": {"binary_data": "no"}}], ` + dummyInfer[1:], nil, "",
			map[string]bool{"a": true, "c": true}, []want{{"b", device.Float32, tensor.Shape{1, 10}, f32Bytes(seq(10, 1)...), nil}}},
		{"binary_data false wins", `{"parameters": {"binary_data_output": true}, "outputs": [{"name": "a", "parameters": {"binary_data": false}}], ` + dummyInfer[1:], nil, "",
			nil, []want{{"b", device.Float32, tensor.Shape{1, 10}, f32Bytes(seq(10, 1)...), nil}}},
		{"binary inputs by size and by shape", `{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}, {"name": "y", "shape": [1], "datatype": "INT32"}]}`,
			append(f32Bytes(1.5, 2.5), i32Bytes(7)...), "", nil,
			[]want{{"x", device.Float32, tensor.Shape{2}, f32Bytes(1.5, 2.5), nil}, {"y", device.Int32, tensor.Shape{1}, i32Bytes(7), nil}}},
		{"a lone BYTES input takes the whole buffer", `{"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES"}]}`, lenPrefixed("hello"), "", nil,
			[]want{{"s", device.String, tensor.Shape{1}, nil, []string{"hello"}}}},
		{"binary fp16", `{"inputs": [{"name": "h", "shape": [1], "datatype": "FP16", "parameters": {"binary_data_size": 2}}]}`, []byte{0x00, 0x3E}, "", nil,
			[]want{{"h", device.Float16, tensor.Shape{1}, []byte{0x00, 0x3E}, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := []byte(tt.body), -1
			if tt.bin != nil {
				body, hdr = withBinary(tt.body, tt.bin)
			}
			req, err := ParseInfer(body, hdr, ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if req.ID != tt.id || fmt.Sprint(req.BinaryOutputs) != fmt.Sprint(tt.binOuts) {
				t.Errorf("id %q binary %v, want %q %v", req.ID, req.BinaryOutputs, tt.id, tt.binOuts)
			}
			inputs, _, err := req.Inputs(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(inputs) != len(tt.want) || req.NumInputs() != len(tt.want) {
				t.Fatalf("%d inputs, want %d", len(inputs), len(tt.want))
			}
			for i, w := range tt.want {
				in := inputs[i]
				if in.Name != w.name || in.DType != w.dtype || !in.Shape.Equal(w.shape) {
					t.Errorf("input %d: %s %v %v, want %s %v %v", i, in.Name, in.DType, in.Shape, w.name, w.dtype, w.shape)
				}
				if w.strs != nil {
					if fmt.Sprintf("%q", in.Strings) != fmt.Sprintf("%q", toBytes(w.strs)) {
						t.Errorf("%s: strings %q, want %q", w.name, in.Strings, w.strs)
					}
				} else if got := arenaBytes(t, in); !bytes.Equal(got, w.data) {
					t.Errorf("%s: data % x, want % x", w.name, got, w.data)
				}
			}
		})
	}
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestParseInferMixedInputsAreRejectedAfterParsing(t *testing.T) {
	js := `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "y", "shape": [1], "datatype": "INT32"}]}`
	req, err := ParseInfer(append([]byte(js), i32Bytes(7)...), len(js), ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = req.Inputs(nil)
	status, msg := errText(err)
	want := "Invalid message structure - Passing buffers both in InferInputTensor contents and in raw_input_contents is not allowed. Detected buffer in InferInputTensor contents for input: x"
	if status != 400 || msg != want {
		t.Fatalf("got %d %q", status, msg)
	}
}
