package rest

import (
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/plugins/device"
)

// The parsers see untrusted bodies: whatever they get, they must return a
// request or an error, never panic, and never leave the cursor out of step.
func FuzzParsePredict(f *testing.F) {
	for _, s := range []string{
		`{"instances": [[1.0, 2.0]]}`, `{"instances": [{"b": [1], "c": {"b64": "aGk="}}]}`, `{"inputs": {"b": [[1, 2], [3, 4]]}}`,
		`{"inputs": [1, 2]}`, `{"instances": ["a", {"b64": "YQ=="}]}`, `{"inputs": {"sequence_id": [1]}}`, `{"instances": [true]}`,
		// Long runs of numbers are checked as they are converted.
		`{"instances": [[` + strings.Repeat("1, 2.5, ", 20) + `3], [` + strings.Repeat("4, ", 40) + `5]]}`,
		`{"inputs": {"b": [[` + strings.Repeat("-1e2, 7, ", 20) + `3]]}}`,
	} {
		f.Add([]byte(s))
	}
	inputs := []device.TensorInfo{{Name: "b", DType: device.Uint8, Shape: []int64{-1, -1}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _, err := ParsePredict(body, inputs, ParseLimits{})
		if err == nil && req == nil {
			t.Fatal("no request and no error")
		}
		if err == nil {
			for _, in := range req.Inputs {
				arenaBytes(t, in)
			}
		}
	})
}

func FuzzParseInfer(f *testing.F) {
	f.Add([]byte(dummyInfer), -1)
	f.Add([]byte(`{"inputs": [{"name": "b", "shape": [1, 40], "datatype": "FP32", "data": [`+strings.Repeat("1.5, ", 39)+`2]}]}`), -1)
	f.Add([]byte(`{"inputs": [{"name": "b", "shape": [40], "datatype": "INT32", "data": [[`+strings.Repeat("-3, ", 39)+`2]]}]}`), -1)
	f.Add([]byte(`{"id":"x","parameters":{"binary_data_output":true},"outputs":[{"name":"a"}],"inputs":[{"name":"s","shape":[1],"datatype":"BYTES"}]}`+"\x01\x00\x00\x00a"), 117)
	f.Fuzz(func(t *testing.T, body []byte, hdr int) {
		if hdr < -1 {
			hdr = -1
		}
		req, err := ParseInfer(body, hdr, ParseLimits{})
		if err == nil {
			if ins, _, err := req.Inputs(nil); err == nil {
				for _, in := range ins {
					if in.DType.Valid() {
						arenaBytes(t, in)
					}
				}
			}
		}
	})
}

func FuzzCursorAgreesWithValidate(f *testing.F) {
	f.Add([]byte(`{"a": [1, {"b": "c\u0041"}, -2.5e3, true, null]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		doc = rjson.TrimAtNUL(doc)
		if rjson.Validate(doc, 100) != nil {
			return
		}
		c := rjson.NewCursor(doc)
		walk(c)
		if c.Bad() {
			t.Fatalf("cursor out of step on %q", doc)
		}
	})
}

func walk(c *rjson.Cursor) {
	switch c.Kind() {
	case rjson.KindObject:
		c.EnterObject()
		for {
			if _, ok := c.NextMember(); !ok {
				return
			}
			walk(c)
		}
	case rjson.KindArray:
		c.EnterArray()
		for c.NextElement() {
			walk(c)
		}
	case rjson.KindString:
		c.String()
	case rjson.KindNumber:
		c.Number().Float64()
	default:
		c.Skip()
	}
}
