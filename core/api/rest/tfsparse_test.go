package rest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

func TestParsePredictErrors(t *testing.T) {
	u8 := []device.TensorInfo{{Name: "s", DType: device.Uint8, Shape: []int64{-1, -1}}}
	tests := []struct {
		name   string
		body   string
		inputs []device.TensorInfo
		status int
		msg    string
	}{
		{"syntax", `{`, dummyInputs, 412, "The file is not valid json - Error: Missing a name for object member. Offset: 1"},
		{"empty body", ``, dummyInputs, 412, "The file is not valid json - Error: The document is empty. Offset: 0"},
		{"nul ends the document", "{\"instances\": [[1]]}\x00garbage", dummyInputs, 0, ""},
		{"nul inside the document", "{\"instances\": [[1]]\x00}", dummyInputs, 412, "The file is not valid json - Error: Missing a comma or '}' after an object member. Offset: 19"},
		{"too deep", `{"inputs": {"b": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, dummyInputs, 400, "JSON nesting depth exceeded"},
		{"not an object", `[]`, dummyInputs, 400, "Request body should be JSON object"},
		{"both layouts", `{"instances": [], "inputs": {}}`, dummyInputs, 400, "Invalid JSON structure. Could not detect row or column format"},
		{"no layout", `{"signature_name": "serving_default"}`, dummyInputs, 400, "Invalid JSON structure. Could not detect row or column format"},
		{"instances not an array", `{"instances": {}}`, dummyInputs, 400, "Invalid JSON structure. Nonamed instance is not an array."},
		{"no instances", `{"instances": []}`, dummyInputs, 400, "Invalid JSON structure. Missing instances in row format"},
		{"named then not an object", `{"instances": [{"b": [1]}, [1]]}`, dummyInputs, 400, "Invalid JSON structure. One of named instances is not a JSON object."},
		{"empty instance", `{"instances": [{}]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"scalar in instance", `{"instances": [{"b": 1}]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"null instance", `{"instances": [null]}`, dummyInputs, 400, "Could not detect neither named or nonamed format"},
		{"bool instance for a float model", `{"instances": [true]}`, dummyInputs, 400, "Could not detect neither named or nonamed format"},
		{"no-named with two inputs", `{"instances": [[1, 2]]}`, twoInputs, 500, "Internal allocation error"},
		{"no-named column with two inputs", `{"inputs": [[1, 2]]}`, twoInputs, 500, "Internal allocation error"},
		{"batch sizes differ", `{"instances": [{"a": [1, 2]}, {"a": [1, 2], "b": [1, 2]}]}`, twoInputs, 400, "Invalid JSON structure. Request inputs have different batch sizes"},
		{"ragged", `{"instances": [[1, 2], [1]]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"ragged deeper", `{"instances": [[[1], [2, 3]]]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"empty nested array", `{"instances": [[]]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"bad base64", `{"instances": [[{"b64": "!!"}]]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"b64 object with two members", `{"instances": [{"b": {"b64": "aGk=", "x": 1}}]}`, dummyInputs, 400, "Could not parse instance content. Not valid ndarray detected"},
		{"inputs not an object", `{"inputs": 5}`, dummyInputs, 400, "Invalid JSON structure. One of inputs is not a JSON object."},
		{"no inputs", `{"inputs": {}}`, dummyInputs, 400, "Invalid JSON structure, missing inputs"},
		{"scalar input", `{"inputs": {"b": 5}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"string in a float input", `{"inputs": [[1, "a"]]}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"string for a float input", `{"inputs": {"b": "abc"}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"bool for a float input", `{"inputs": {"b": [true]}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"unknown name, uint32 first", `{"inputs": {"x": [3000000000]}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"unknown name, bool first", `{"inputs": {"x": [true]}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"unknown name, string", `{"inputs": {"x": ["a"]}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"string value for u8 named array", `{"inputs": {"s": [["ab", 1]]}}`, u8, 400, "Could not parse input content. Not valid ndarray detected"},
		{"sequence_id not unsigned", `{"inputs": {"sequence_id": [-1]}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
		{"sequence_id nested", `{"inputs": {"sequence_id": [[1]]}}`, dummyInputs, 400, "Could not parse input content. Not valid ndarray detected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParsePredict([]byte(tt.body), tt.inputs, ParseLimits{})
			status, msg := errText(err)
			if status != tt.status || msg != tt.msg {
				t.Errorf("got %d %q, want %d %q", status, msg, tt.status, tt.msg)
			}
		})
	}
}

func TestParsePredictInputs(t *testing.T) {
	type want struct {
		name  string
		dtype tensor.DataType
		dname string
		shape tensor.Shape
		data  []byte   // arena bytes of numeric inputs
		strs  []string // string inputs
	}
	ten := f32Bytes(seq(10, 1)...)
	u8 := []device.TensorInfo{{Name: "s", DType: device.Uint8, Shape: []int64{-1, -1}}}
	i8 := []device.TensorInfo{{Name: "q", DType: device.Int8, Shape: []int64{-1}}}
	tests := []struct {
		name   string
		body   string
		inputs []device.TensorInfo
		order  Order
		want   []want
	}{
		{"row no-named", `{"instances": [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]]}`, dummyInputs, OrderRow,
			[]want{{"b", device.Float32, "FP32", tensor.Shape{1, 10}, ten, nil}}},
		{"row named, ints cast", `{"instances": [{"b": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}]}`, dummyInputs, OrderRow,
			[]want{{"b", device.Float32, "FP32", tensor.Shape{1, 10}, ten, nil}}},
		{"column named", `{"signature_name": "x", "inputs": {"b": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}}`, dummyInputs, OrderColumn,
			[]want{{"b", device.Float32, "FP32", tensor.Shape{1, 10}, ten, nil}}},
		{"column no-named", `{"inputs": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}`, dummyInputs, OrderColumn,
			[]want{{"b", device.Float32, "FP32", tensor.Shape{1, 10}, ten, nil}}},
		{"first key wins", `{"instances": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], "instances": 5}`, dummyInputs, OrderRow,
			[]want{{"b", device.Float32, "FP32", tensor.Shape{1, 10}, ten, nil}}},
		{"row named, two instances, two inputs", `{"instances": [{"a": [1, 2], "b": [3, 4]}, {"b": [5, 6], "a": [7.5, 8]}]}`, twoInputs, OrderRow,
			[]want{{"a", device.Float32, "FP32", tensor.Shape{2, 2}, f32Bytes(1, 2, 7.5, 8), nil}, {"b", device.Int32, "I32", tensor.Shape{2, 2}, i32Bytes(3, 4, 5, 6), nil}}},
		{"unmentioned model inputs are dropped", `{"inputs": {"a": [[1, 2]]}}`, twoInputs, OrderColumn,
			[]want{{"a", device.Float32, "FP32", tensor.Shape{1, 2}, f32Bytes(1, 2), nil}}},
		{"unknown names get I32 or FP32", `{"inputs": {"x": [1, 2.5], "y": [1.5, 2]}}`, dummyInputs, OrderColumn,
			[]want{{"x", device.Int32, "I32", tensor.Shape{2}, i32Bytes(1, 2), nil}, {"y", device.Float32, "FP32", tensor.Shape{2}, f32Bytes(1.5, 2), nil}}},
		{"casts without range checks", `{"inputs": [300, -1.7, 1e10, 255, -129]}`, i8, OrderColumn,
			[]want{{"q", device.Int8, "I8", tensor.Shape{5}, []byte{44, 0xFF, 0, 0xFF, 0x7F}, nil}}},
		{"b64 in a named row", `{"instances": [{"img": {"b64": "aGk="}}, {"img": {"b64": " YQ "}}]}`, dummyInputs, OrderRow,
			[]want{{"img", device.String, "STRING", tensor.Shape{2}, nil, []string{"hi", "a"}}}},
		{"b64 no-named", `{"instances": [{"b64": "aGk="}]}`, dummyInputs, OrderRow,
			[]want{{"b", device.String, "STRING", tensor.Shape{1}, nil, []string{"hi"}}}},
		{"column b64 without a dimension is dropped", `{"inputs": {"b": {"b64": "aGk="}}}`, dummyInputs, OrderColumn, []want{}},
		{"strings for a u8 input", `{"instances": ["abc", "de"]}`, u8, OrderRow,
			[]want{{"s", device.String, "STRING", tensor.Shape{2}, nil, []string{"abc", "de"}}}},
		{"named string for a u8 input", `{"instances": [{"s": "abc"}]}`, u8, OrderRow,
			[]want{{"s", device.String, "STRING", tensor.Shape{1}, nil, []string{"abc"}}}},
		{"names stop at NUL", `{"inputs": {"b\u0000zz": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}}`, dummyInputs, OrderColumn,
			[]want{{"b", device.Float32, "FP32", tensor.Shape{1, 10}, ten, nil}}},
		{"sequence_id is uint64", `{"inputs": {"sequence_id": [5], "sequence_control_input": [1]}}`, dummyInputs, OrderColumn,
			[]want{{"sequence_id", device.Uint64, "U64", tensor.Shape{1}, []byte{5, 0, 0, 0, 0, 0, 0, 0}, nil}, {"sequence_control_input", device.Uint32, "INVALID", tensor.Shape{1}, []byte{1, 0, 0, 0}, nil}}},
		{"superset: bool input", `{"instances": [[true, false]]}`, []device.TensorInfo{{Name: "m", DType: device.Bool, Shape: []int64{1, 2}}}, OrderRow,
			[]want{{"m", device.Bool, "BOOL", tensor.Shape{1, 2}, []byte{1, 0}, nil}}},
		{"superset: bare bools", `{"instances": [true, false]}`, []device.TensorInfo{{Name: "m", DType: device.Bool, Shape: []int64{2}}}, OrderRow,
			[]want{{"m", device.Bool, "BOOL", tensor.Shape{2}, []byte{1, 0}, nil}}},
		{"superset: fp16 converted", `{"inputs": [1.5, -2]}`, []device.TensorInfo{{Name: "h", DType: device.Float16, Shape: []int64{2}}}, OrderColumn,
			[]want{{"h", device.Float16, "FP16", tensor.Shape{2}, []byte{0x00, 0x3E, 0x00, 0xC0}, nil}}},
		{"superset: native strings", `{"instances": [{"t": "abc"}]}`, []device.TensorInfo{{Name: "t", DType: device.String, Shape: []int64{-1}}}, OrderRow,
			[]want{{"t", device.String, "STRING", tensor.Shape{1}, nil, []string{"abc"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, order, err := ParsePredict([]byte(tt.body), tt.inputs, ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if order != tt.order || req.API != tensor.TFS {
				t.Fatalf("order %d api %d", order, req.API)
			}
			if len(req.Inputs) != len(tt.want) {
				t.Fatalf("%d inputs, want %d", len(req.Inputs), len(tt.want))
			}
			byName := map[string]tensor.Input{}
			for _, in := range req.Inputs {
				byName[in.Name] = in
			}
			for _, w := range tt.want {
				in, ok := byName[w.name]
				if !ok {
					t.Fatalf("no input %q", w.name)
				}
				if in.DType != w.dtype || in.DTypeName != w.dname || !in.Shape.Equal(w.shape) {
					t.Errorf("%s: %v %s %v, want %v %s %v", w.name, in.DType, in.DTypeName, in.Shape, w.dtype, w.dname, w.shape)
				}
				if w.strs != nil {
					var got []string
					for _, s := range in.Strings {
						got = append(got, string(s))
					}
					if strings.Join(got, "|") != strings.Join(w.strs, "|") {
						t.Errorf("%s: strings %q, want %q", w.name, got, w.strs)
					}
				} else if got := arenaBytes(t, in); !bytes.Equal(got, w.data) {
					t.Errorf("%s: data % x, want % x", w.name, got, w.data)
				}
			}
		})
	}
}

func TestDecodeB64LikeAbseil(t *testing.T) {
	tests := map[string]string{
		"aGk=": "hi", "aGk": "hi", "aG k=": "hi", "aGk=\n": "hi", "YQ": "a", "YQ==": "a", "Y Q = =": "a",
		"YWJj": "abc", "": "", "YR==": "a", "YWJ=": "ab",
		"aGk==": "!", "a": "!", "aGk=x": "!", "YQ=": "!", "YQ===": "!", "YW-j": "!", "YW_j": "!", "=": "!", "YQ==YQ==": "!",
	}
	for in, want := range tests {
		got, ok := decodeB64([]byte(in))
		if !ok {
			got = []byte("!")
		}
		if string(got) != want {
			t.Errorf("decodeB64(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePredictScalarColumnSuperset(t *testing.T) {
	inputs := []device.TensorInfo{
		{Name: "s", DType: device.Float32, Shape: []int64{}},
		{Name: "x", DType: device.Int64, Shape: []int64{2}},
	}
	req, order, err := ParsePredict([]byte(`{"inputs": {"s": 7.25, "x": [1, 2]}}`), inputs, ParseLimits{})
	if err != nil || order != OrderColumn || len(req.Inputs) != 2 {
		t.Fatalf("%v %v %+v", err, order, req)
	}
	for _, in := range req.Inputs {
		switch in.Name {
		case "s":
			if len(in.Shape) != 0 || in.Values.Len() != 1 {
				t.Errorf("scalar input %+v", in)
			}
		case "x":
			if len(in.Shape) != 1 || in.Shape[0] != 2 || in.Values.Len() != 2 {
				t.Errorf("vector input %+v", in)
			}
		}
	}
	// A bare value for an input that is not rank 0 is still an error.
	if _, _, err := ParsePredict([]byte(`{"inputs": {"s": 1, "x": 3}}`), inputs, ParseLimits{}); err == nil {
		t.Error("bare value for a rank-1 input accepted")
	}
}

// TestParsePredictAliases checks that an input named by one of its aliases
// is parsed as the model input (its precision) under the served name.
func TestParsePredictAliases(t *testing.T) {
	inputs := []device.TensorInfo{{Name: "input", DType: device.Uint8, Shape: []int64{1, 2}, Aliases: []string{"input:0"}}}
	for _, body := range []string{`{"instances": [{"input:0": [1, 2]}]}`, `{"inputs": {"input:0": [[1, 2]]}}`} {
		req, _, err := ParsePredict([]byte(body), inputs, ParseLimits{})
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(req.Inputs) != 1 || req.Inputs[0].Name != "input" || req.Inputs[0].DType != device.Uint8 {
			t.Errorf("%s: got %+v", body, req.Inputs)
		}
	}
}
