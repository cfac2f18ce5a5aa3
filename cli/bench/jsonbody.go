package bench

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"unicode/utf8"
)

// jsonValues is one input of a JSON data file, flattened: numbers (and
// booleans as 0/1) or strings.
type jsonValues struct {
	nums []float64
	strs []string
}

// readJSONData reads {"name": [values], ...}; values may be nested lists.
func readJSONData(path string) (map[string]jsonValues, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read input data: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("input data file %s: %w", path, err)
	}
	out := make(map[string]jsonValues, len(raw))
	for name, v := range raw {
		var jv jsonValues
		if err := jv.flatten(v); err != nil {
			return nil, fmt.Errorf("input data file %s: input %s: %w", path, name, err)
		}
		out[name] = jv
	}
	return out, nil
}

func (jv *jsonValues) flatten(v any) error {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := jv.flatten(e); err != nil {
				return err
			}
		}
	case float64:
		jv.nums = append(jv.nums, x)
	case bool:
		jv.nums = append(jv.nums, map[bool]float64{false: 0, true: 1}[x])
	case string:
		jv.strs = append(jv.strs, x)
	default:
		return fmt.Errorf("unexpected value %v", v)
	}
	if len(jv.nums) > 0 && len(jv.strs) > 0 {
		return fmt.Errorf("mixes numbers and strings")
	}
	return nil
}

// fill stores the values as t's n elements.
func (jv jsonValues) fill(t *inputTensor, n int64) error {
	if t.dt.name == "BYTES" {
		if int64(len(jv.strs)) != n || len(jv.nums) > 0 {
			return fmt.Errorf("%d strings given, shape %v needs %d", len(jv.strs), t.Shape, n)
		}
		for _, s := range jv.strs {
			t.strs = append(t.strs, []byte(s))
		}
		return nil
	}
	if int64(len(jv.nums)) != n {
		return fmt.Errorf("%d numbers given, shape %v needs %d", len(jv.nums), t.Shape, n)
	}
	t.raw = make([]byte, n*int64(t.dt.size))
	for i, v := range jv.nums {
		if err := t.dt.putNumber(t.raw[i*t.dt.size:], v); err != nil {
			return err
		}
	}
	return nil
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return append(dst, b...)
}

func appendShape(dst []byte, shape []int64) []byte {
	dst = append(dst, '[')
	for i, d := range shape {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, d, 10)
	}
	return append(dst, ']')
}

// appendElement appends element i of t as a JSON value; tfs selects TF
// Serving's {"b64": ...} form for strings that are not UTF-8.
func (t *inputTensor) appendElement(dst []byte, i int64, tfs bool) []byte {
	if t.dt.name == "BYTES" {
		s := t.strs[i]
		if tfs && !utf8.Valid(s) {
			dst = append(dst, `{"b64":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, s)
			return append(dst, `"}`...)
		}
		return appendString(dst, string(s))
	}
	off := i * int64(t.dt.size)
	return t.dt.appendJSON(dst, t.raw[off:off+int64(t.dt.size)])
}

// appendFlat appends t's elements as one flat JSON list (KServe "data").
func (t *inputTensor) appendFlat(dst []byte) []byte {
	dst = append(dst, '[')
	for i := int64(0); i < elements(t.Shape); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = t.appendElement(dst, i, false)
	}
	return append(dst, ']')
}

// appendNested appends t's elements nested as its shape (TF Serving's
// column format); a scalar is a bare value.
func (t *inputTensor) appendNested(dst []byte) []byte {
	var next int64
	var rec func(dst []byte, dims []int64) []byte
	rec = func(dst []byte, dims []int64) []byte {
		if len(dims) == 0 {
			dst = t.appendElement(dst, next, true)
			next++
			return dst
		}
		dst = append(dst, '[')
		for j := int64(0); j < dims[0]; j++ {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = rec(dst, dims[1:])
		}
		return append(dst, ']')
	}
	return rec(dst, t.Shape)
}

// appendShmParams appends the KServe shared-memory parameters of ref.
func appendShmParams(dst []byte, ref shmRef) []byte {
	dst = append(dst, `"parameters":{"shared_memory_region":`...)
	dst = appendString(dst, ref.region)
	dst = append(dst, `,"shared_memory_offset":`...)
	dst = strconv.AppendInt(dst, ref.offset, 10)
	dst = append(dst, `,"shared_memory_byte_size":`...)
	dst = strconv.AppendInt(dst, ref.size, 10)
	return append(dst, '}')
}

// kserveJSONBody builds a KServe REST infer body. With binary, inputs are
// sent as binary data after the JSON (whose length is returned) and every
// output is asked for as binary; with a shared-memory plan, tensors carry
// region parameters and no data.
func kserveJSONBody(inputs []*inputTensor, outputs []string, binary bool, plan *shmPlan) (body []byte, jsonLen int) {
	b := []byte(`{"inputs":[`)
	for i, t := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, t.Name)
		b = append(b, `,"shape":`...)
		b = appendShape(b, t.Shape)
		b = append(b, `,"datatype":`...)
		b = appendString(b, t.Datatype)
		switch {
		case plan != nil:
			b = append(b, ',')
			b = appendShmParams(b, plan.in[i])
		case binary:
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(len(t.kserveRaw())), 10)
			b = append(b, '}')
		default:
			b = append(b, `,"data":`...)
			b = t.appendFlat(b)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	switch {
	case plan != nil:
		b = append(b, `,"outputs":[`...)
		for i, ref := range plan.out {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, ref.name)
			b = append(b, ',')
			b = appendShmParams(b, ref)
			b = append(b, '}')
		}
		b = append(b, ']')
	case binary:
		b = append(b, `,"outputs":[`...)
		for i, name := range outputs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, name)
			b = append(b, `,"parameters":{"binary_data":true}}`...)
		}
		b = append(b, `],"parameters":{"binary_data_output":true}`...)
	}
	b = append(b, '}')
	jsonLen = len(b)
	if binary && plan == nil {
		var buf bytes.Buffer
		buf.Grow(len(b) + sumRaw(inputs))
		buf.Write(b)
		for _, t := range inputs {
			buf.Write(t.kserveRaw())
		}
		return buf.Bytes(), jsonLen
	}
	return b, jsonLen
}

func sumRaw(inputs []*inputTensor) int {
	n := 0
	for _, t := range inputs {
		n += len(t.kserveRaw())
	}
	return n
}

// tfsRESTBody builds a TF Serving REST predict body in the column format.
func tfsRESTBody(inputs []*inputTensor) []byte {
	b := []byte(`{"inputs":{`)
	for i, t := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t.Name)
		b = append(b, ':')
		b = t.appendNested(b)
	}
	return append(b, "}}"...)
}
