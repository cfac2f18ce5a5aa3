package rest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// The parsers see untrusted bodies: whatever they get, they must return a
// request or an error, never panic, and never leave the cursor out of step.
// Bounded by a model's shapes and a small memory budget they must keep no
// more than those allow, and answer exactly what the unbounded parse
// answers (the same error, or the same validation result and the same
// arena bytes), unless they stop at the budget.

// fuzzModels are the models fuzzed requests are checked against: a static
// input, a dynamic one, a static string one, two inputs.
var fuzzModels = [][]device.TensorInfo{
	{{Name: "b", DType: device.Float32, Shape: []int64{1, 10}}},
	{{Name: "b", DType: device.Uint8, Shape: []int64{-1, -1}}},
	{{Name: "s", DType: device.String, Shape: []int64{2}}},
	{{Name: "b", DType: device.Int32, Shape: []int64{2, 2}}, {Name: "c", DType: device.Bool, Shape: []int64{3}}},
}

// fuzzBudget is small, so that fuzzed bodies reach it.
const fuzzBudget = 2 << 10

func fuzzLimits(model []device.TensorInfo) ParseLimits {
	return ParseLimits{Budget: tensor.NewBudget(fuzzBudget), Inputs: model}
}

// allocated is the memory an input's decoded data holds in buffers of
// its own: its value buffer and its string views (string bytes may alias
// the body).
func allocated(in tensor.Input) int64 {
	var n int64
	if in.Values != nil {
		if v := reflect.ValueOf(in.Values); v.Kind() == reflect.Slice {
			n += int64(v.Cap()) * int64(v.Type().Elem().Size())
		}
	}
	return n + int64(cap(in.Strings))*24
}

// checkBounded compares a bounded parse (req, err) with the unbounded one
// of the same body.
func checkBounded(t *testing.T, model []device.TensorInfo, req *tensor.Request, err error, free *tensor.Request, ferr error) {
	t.Helper()
	var me *tensor.MemoryError
	if errors.As(err, &me) {
		if me.Limit != fuzzBudget {
			t.Fatalf("memory error with limit %d", me.Limit)
		}
		return
	}
	_, msg := errText(err)
	_, fmsg := errText(ferr)
	if msg != fmsg {
		t.Fatalf("bounded parse: %q, unbounded: %q", msg, fmsg)
	}
	if err != nil {
		return
	}
	var total int64
	for _, in := range req.Inputs {
		kept := int64(in.ValueCount() - in.Excess)
		if in.Values == nil {
			kept = int64(len(in.Strings))
		}
		if m := limitOf(model, in.Name); m >= 0 && kept > m && (in.DType != device.String || modelDType(model, in.Name) == device.String) {
			t.Fatalf("input %s kept %d values past the model's %d", in.Name, kept, m)
		}
		total += allocated(in)
	}
	if total > fuzzBudget {
		t.Fatalf("the bounded parse holds %d bytes (budget %d)", total, fuzzBudget)
	}
	verr := tensor.Validate(model, req)
	fverr := tensor.Validate(model, free)
	_, vm := errText(verr)
	if _, fm := errText(fverr); vm != fm {
		t.Fatalf("validation: bounded %q, unbounded %q", vm, fm)
	}
	if verr != nil {
		return
	}
	for i := range req.Inputs {
		a, b := arenaBytes(t, req.Inputs[i]), arenaBytes(t, free.Inputs[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("input %s: arena bytes differ", req.Inputs[i].Name)
		}
	}
}

// modelDType is the element type of a model input.
func modelDType(model []device.TensorInfo, name string) device.DataType {
	for _, in := range model {
		if in.Name == name {
			return in.DType
		}
	}
	return device.Invalid
}

// limitOf is the static element count of a model input, or -1.
func limitOf(model []device.TensorInfo, name string) int64 {
	for _, in := range model {
		if in.Name == name {
			return tensor.Shape(in.Shape).Elements()
		}
	}
	return -1
}

func FuzzParsePredict(f *testing.F) {
	for _, s := range []string{
		`{"instances": [[1.0, 2.0]]}`, `{"instances": [{"b": [1], "c": {"b64": "aGk="}}]}`, `{"inputs": {"b": [[1, 2], [3, 4]]}}`,
		`{"inputs": [1, 2]}`, `{"instances": ["a", {"b64": "YQ=="}]}`, `{"inputs": {"sequence_id": [1]}}`, `{"instances": [true]}`,
		// Long runs of numbers are checked as they are converted.
		`{"instances": [[` + strings.Repeat("1, 2.5, ", 20) + `3], [` + strings.Repeat("4, ", 40) + `5]]}`,
		`{"inputs": {"b": [[` + strings.Repeat("-1e2, 7, ", 20) + `3]]}}`,
		// Real requests: the dummy model in both layouts, strings, two inputs.
		`{"instances": [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]]}`,
		`{"inputs": {"b": [[1,2,3,4,5,6,7,8,9,10]]}}`, `{"instances": [{"b": [1,2,3,4,5,6,7,8,9,10]}]}`,
		`{"instances": ["abc", "de"]}`, `{"inputs": {"s": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]}}`,
		`{"inputs": {"b": [[1, 2], [3, 4]], "c": [true, false, true]}}`,
		// Past the shapes and the budget.
		`{"instances": [[` + strings.Repeat("1.5, ", 2000) + `2]]}`, `{"instances": [` + strings.Repeat(`"", `, 3000) + `""]}`,
		`{"inputs": {"c": [` + strings.Repeat("true, ", 3000) + `false]}}`,
	} {
		for m := range fuzzModels {
			f.Add([]byte(s), uint8(m))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		model := fuzzModels[int(which)%len(fuzzModels)]
		free, _, ferr := ParsePredict(body, model, ParseLimits{})
		if ferr == nil && free == nil {
			t.Fatal("no request and no error")
		}
		req, _, err := ParsePredict(body, model, fuzzLimits(model))
		checkBounded(t, model, req, err, free, ferr)
	})
}

func FuzzParseInfer(f *testing.F) {
	add := func(s string, hdr int) {
		for m := range fuzzModels {
			f.Add([]byte(s), hdr, uint8(m))
		}
	}
	add(dummyInfer, -1)
	add(`{"inputs": [{"name": "b", "shape": [1, 40], "datatype": "FP32", "data": [`+strings.Repeat("1.5, ", 39)+`2]}]}`, -1)
	add(`{"inputs": [{"name": "b", "shape": [40], "datatype": "INT32", "data": [[`+strings.Repeat("-3, ", 39)+`2]]}]}`, -1)
	add(`{"id":"x","parameters":{"binary_data_output":true},"outputs":[{"name":"a"}],"inputs":[{"name":"s","shape":[1],"datatype":"BYTES"}]}`+"\x01\x00\x00\x00a", 117)
	// Real requests: strings, booleans, two inputs, binary FP32 data.
	add(`{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","data":["a","bc"]}]}`, -1)
	add(`{"inputs":[{"name":"b","shape":[2,2],"datatype":"INT32","data":[[1,2],[3,4]]},{"name":"c","shape":[3],"datatype":"BOOL","data":[true,false,true]}]}`, -1)
	bin := `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","parameters":{"binary_data_size":40}}]}`
	add(bin+string(f32Bytes(seq(10, 1)...)), len(bin))
	// Past the shapes and the budget.
	add(`{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[`+strings.Repeat("1.5,", 3000)+`2]}]}`, -1)
	add(`{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","data":[`+strings.Repeat(`"x",`, 3000)+`""]}]}`, -1)
	add(`{"inputs":[{"name":"b","shape":[1,3000],"datatype":"UINT8","data":[`+strings.Repeat("7,", 2999)+`1]}]}`, -1)
	f.Fuzz(func(t *testing.T, body []byte, hdr int, which uint8) {
		if hdr < -1 {
			hdr = -1
		}
		model := fuzzModels[int(which)%len(fuzzModels)]
		decode := func(lim ParseLimits) (*tensor.Request, error) {
			r, err := ParseInfer(body, hdr, lim)
			if err != nil {
				return nil, err
			}
			if err := tensor.ValidateCount(model, r.NumInputs()); err != nil {
				return nil, err
			}
			ins, _, err := r.Inputs(nil)
			if err != nil {
				return nil, err
			}
			return &tensor.Request{API: tensor.KServe, Inputs: ins}, nil
		}
		free, ferr := decode(ParseLimits{})
		req, err := decode(fuzzLimits(model))
		checkBounded(t, model, req, err, free, ferr)
	})
}

// The binary extension: a body received in chunks of any size parses as
// the same body in one buffer, and binary inputs stay views of the chunks.
func FuzzParseInferChunked(f *testing.F) {
	js := `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","parameters":{"binary_data_size":40}},{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":11}}]}`
	f.Add([]byte(js), append(f32Bytes(seq(10, 1)...), lenPrefixed("hi", "you")...), uint16(7))
	f.Add([]byte(`{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES"}]}`), []byte("\x03\x00\x00\x00abc"), uint16(1))
	f.Add([]byte(`{"inputs":[{"name":"b","shape":[3],"datatype":"UINT8"}]}`), []byte{1, 2, 3, 4}, uint16(2))
	f.Add([]byte(dummyInfer), []byte{}, uint16(5))
	f.Fuzz(func(t *testing.T, json, bin []byte, chunk uint16) {
		whole := append(append([]byte(nil), json...), bin...)
		size := int(chunk%64) + 1
		b := &body{n: len(whole)}
		for off := 0; off < len(whole); off += size {
			b.chunks = append(b.chunks, whole[off:min(off+size, len(whole))])
		}
		if len(b.chunks) == 0 {
			b.chunks = [][]byte{{}}
		}
		got, err := parseReceived(b, len(json), ParseLimits{})
		want, werr := ParseInfer(whole, len(json), ParseLimits{})
		_, m := errText(err)
		if _, w := errText(werr); m != w {
			t.Fatalf("chunked: %q, whole: %q", m, w)
		}
		if err != nil {
			return
		}
		gi, _, gerr := got.Inputs(nil)
		wi, _, werr := want.Inputs(nil)
		_, m = errText(gerr)
		if _, w := errText(werr); m != w {
			t.Fatalf("inputs: chunked %q, whole %q", m, w)
		}
		if gerr != nil {
			return
		}
		for i := range gi {
			g, w := gi[i], wi[i]
			if g.RawLen() != w.RawLen() || g.Excess != w.Excess || len(g.Strings) != len(w.Strings) {
				t.Fatalf("input %s: raw %d/%d excess %d/%d strings %d/%d", g.Name, g.RawLen(), w.RawLen(), g.Excess, w.Excess, len(g.Strings), len(w.Strings))
			}
			if g.RawLen() > len(bin) {
				t.Fatalf("input %s: %d raw bytes from a %d-byte binary part", g.Name, g.RawLen(), len(bin))
			}
			for j := range g.Strings {
				if !bytes.Equal(g.Strings[j], w.Strings[j]) {
					t.Fatalf("input %s: string %d differs", g.Name, j)
				}
			}
			if g.HasRaw && g.DType.Valid() && g.DType != device.String {
				if !bytes.Equal(arenaBytes(t, g), arenaBytes(t, w)) {
					t.Fatalf("input %s: raw bytes differ", g.Name)
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
