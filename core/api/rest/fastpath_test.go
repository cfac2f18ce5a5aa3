package rest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// The parsers check long runs of numbers while converting them (see
// rjson.ValidateIndex). These references check the whole body first and
// then parse with a plain cursor, as the parsers did before: the results
// and errors must be the same.

func refParseInfer(body []byte, hdr int) (*InferRequest, error) {
	end := len(body)
	if hdr >= 0 {
		if hdr > len(body) {
			return ParseInfer(body, hdr, ParseLimits{})
		}
		end = hdr
	}
	data := rjson.TrimAtNUL(body[:end])
	if err := rjson.Validate(data, maxJSONDepth); err != nil {
		return nil, jsonError(err)
	}
	return parseInfer(rjson.NewCursor(data), contiguous(body[end:]), ParseLimits{})
}

func refParsePredict(body []byte, inputs []device.TensorInfo) (*tensor.Request, Order, error) {
	data := rjson.TrimAtNUL(body)
	if err := rjson.Validate(data, maxJSONDepth); err != nil {
		return nil, 0, jsonError(err)
	}
	return parsePredict(rjson.NewCursor(data), inputs, ParseLimits{})
}

// describeInputs renders decoded inputs, arena bytes included.
func describeInputs(t *testing.T, ins []tensor.Input) string {
	var b strings.Builder
	for _, in := range ins {
		fmt.Fprintf(&b, "%s %v %v %s|", in.Name, in.DType, in.Shape, in.DTypeName)
		switch {
		case in.Strings != nil:
			fmt.Fprintf(&b, "%q", in.Strings)
		case in.HasRaw:
			fmt.Fprintf(&b, "raw %x", in.Raw)
		case in.DType.Valid() && in.Values != nil:
			dst := make([]byte, in.Values.Len()*in.DType.Size())
			if err := in.Values.Put(dst, in.DType); err != nil {
				fmt.Fprintf(&b, "put: %v", err)
			}
			fmt.Fprintf(&b, "%x", dst)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func inferOutcome(t *testing.T, req *InferRequest, err error) string {
	if err != nil {
		status, msg := errText(err)
		return fmt.Sprintf("error %d %s", status, msg)
	}
	ins, _, err := req.Inputs(nil)
	if err != nil {
		status, msg := errText(err)
		return fmt.Sprintf("inputs error %d %s", status, msg)
	}
	return fmt.Sprintf("id %q binary %v\n%s", req.ID, req.BinaryOutputs, describeInputs(t, ins))
}

func predictOutcome(t *testing.T, req *tensor.Request, order Order, err error) string {
	if err != nil {
		status, msg := errText(err)
		return fmt.Sprintf("error %d %s", status, msg)
	}
	return fmt.Sprintf("order %d\n%s", order, describeInputs(t, req.Inputs))
}

// numberToken returns a number as clients write them, for a datatype.
func numberToken(r *rand.Rand, float bool) string {
	if !float || r.IntN(8) == 0 {
		switch r.IntN(6) {
		case 0:
			return strconv.Itoa(r.IntN(256))
		case 1:
			return strconv.Itoa(r.IntN(200) - 100)
		case 2:
			return strconv.FormatInt(r.Int64()>>r.IntN(64), 10)
		case 3:
			return strconv.FormatUint(r.Uint64(), 10)
		case 4:
			return []string{"-0", "0", "2147483648", "-2147483649", "4294967296", "9007199254740993", "18446744073709551616"}[r.IntN(7)]
		}
		return strconv.Itoa(r.IntN(1 << 20))
	}
	switch r.IntN(5) {
	case 0:
		return strconv.FormatFloat(float64(r.Float32()), 'g', -1, 32)
	case 1:
		return strconv.FormatFloat(r.NormFloat64()*100, 'f', r.IntN(6), 64)
	case 2:
		return strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.IntN(80)-40)), 'g', -1, 64)
	case 3:
		f := math.Float32frombits(r.Uint32())
		if f != f || math.IsInf(float64(f), 0) {
			f = 0.25
		}
		return strconv.FormatFloat(float64(f), 'g', -1, 32)
	}
	return []string{"1e39", "-1e39", "3.4028235e38", "1e-46", "-0.0", "2.5e-3", "1E2", "123456789012345678901234"}[r.IntN(8)]
}

// numberArray writes n numbers as a flat array or nested by dims.
func numberArray(b *bytes.Buffer, r *rand.Rand, dims []int, float bool, sep string) {
	if len(dims) == 0 {
		b.WriteString(numberToken(r, float))
		return
	}
	b.WriteByte('[')
	for i := range dims[0] {
		if i > 0 {
			b.WriteString(sep)
		}
		numberArray(b, r, dims[1:], float, sep)
	}
	b.WriteByte(']')
}

func mutateBody(r *rand.Rand, body []byte) []byte {
	body = bytes.Clone(body)
	const bytesOf = "0123456789.-+eE, \n/x:[]{}\"\x01"
	for range 1 + r.IntN(2) {
		i := r.IntN(len(body))
		c := bytesOf[r.IntN(len(bytesOf))]
		switch r.IntN(3) {
		case 0:
			body[i] = c
		case 1:
			body = append(body[:i], append([]byte{c}, body[i:]...)...)
		default:
			body = append(body[:i], body[i+1:]...)
		}
	}
	return body
}

func randInferBody(r *rand.Rand) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id": "r1", "inputs": [`)
	types := []string{"FP32", "FP64", "INT8", "INT32", "INT64", "UINT8", "UINT32", "UINT64", "BOOL", "BYTES"}
	for i := range 1 + r.IntN(2) {
		if i > 0 {
			b.WriteString(", ")
		}
		dt := types[r.IntN(len(types))]
		if r.IntN(2) == 0 {
			dt = "FP32"
		}
		dims := []int{1 + r.IntN(3), 1 + r.IntN(40)}
		fmt.Fprintf(&b, `{"name": "in%d", "datatype": "%s", `, i, dt)
		shape := fmt.Sprintf(`"shape": [%d, %d]`, dims[0], dims[1])
		if r.IntN(2) == 0 {
			b.WriteString(shape + ", ")
		}
		b.WriteString(`"data": `)
		switch dt {
		case "BOOL":
			b.WriteString(`[true, false]`)
		case "BYTES":
			b.WriteString(`["a", "b"]`)
		default:
			if r.IntN(2) == 0 {
				dims = []int{dims[0] * dims[1]}
			}
			numberArray(&b, r, dims, dt[0] == 'F', []string{",", ", ", ",\n  "}[r.IntN(3)])
		}
		if !strings.Contains(b.String()[strings.LastIndex(b.String(), `"name"`):], `"shape"`) {
			b.WriteString(", " + shape)
		}
		b.WriteString("}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

func TestParseInferMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for i := range 4000 {
		body := randInferBody(r)
		if i%2 == 1 {
			body = mutateBody(r, body)
		}
		req, err := ParseInfer(body, -1, ParseLimits{})
		got := inferOutcome(t, req, err)
		rreq, rerr := refParseInfer(body, -1)
		if want := inferOutcome(t, rreq, rerr); got != want {
			t.Fatalf("body %s\ngot  %s\nwant %s", body, got, want)
		}
	}
}

func TestParsePredictMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	models := [][]device.TensorInfo{
		{{Name: "x", DType: device.Float32, Shape: []int64{-1, 3, 40}}},
		{{Name: "x", DType: device.Float64, Shape: []int64{-1, 3, 40}}},
		{{Name: "x", DType: device.Int32, Shape: []int64{-1, 3, 40}}},
		{{Name: "x", DType: device.Uint8, Shape: []int64{-1, 3, 40}}},
		{{Name: "x", DType: device.Float16, Shape: []int64{-1, 3, 40}}},
		{{Name: "x", DType: device.Float32, Shape: []int64{-1, 3, 40}}, {Name: "y", DType: device.Int64, Shape: []int64{-1, 3, 40}}},
	}
	for i := range 4000 {
		model := models[r.IntN(len(models))]
		float := model[0].DType != device.Int32 && model[0].DType != device.Uint8
		dims := []int{1 + r.IntN(2), 3, 1 + r.IntN(40)}
		sep := []string{",", ", ", ",\n  "}[r.IntN(3)]
		var b bytes.Buffer
		switch r.IntN(3) {
		case 0:
			b.WriteString(`{"instances": `)
			numberArray(&b, r, dims, float, sep)
			b.WriteString(`}`)
		case 1:
			b.WriteString(`{"inputs": {"x": `)
			numberArray(&b, r, dims, float, sep)
			if len(model) > 1 {
				b.WriteString(`, "y": `)
				numberArray(&b, r, dims, false, sep)
			}
			b.WriteString(`}}`)
		default:
			b.WriteString(`{"instances": [`)
			for j := range dims[0] {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(`{"x": `)
				numberArray(&b, r, dims[1:], float, sep)
				b.WriteString(`}`)
			}
			b.WriteString(`]}`)
		}
		body := b.Bytes()
		if i%2 == 1 {
			body = mutateBody(r, body)
		}
		req, order, err := ParsePredict(body, model, ParseLimits{})
		got := predictOutcome(t, req, order, err)
		rreq, rorder, rerr := refParsePredict(body, model)
		if want := predictOutcome(t, rreq, rorder, rerr); got != want {
			t.Fatalf("body %s\ngot  %s\nwant %s", body, got, want)
		}
	}
}

// The values against the tokens, converted as OVMS does: KServe FP32 is
// float32(GetDouble()), TFS FP32 is static_cast<float> of the double or
// of the 64-bit integer, integer datatypes take integers in range.
func TestLongRunsConvertAsOVMS(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	const n = 20000
	toks := make([]string, n)
	for i := range toks {
		toks[i] = numberToken(r, r.IntN(4) != 0)
	}
	body := []byte(`{"inputs": [{"name": "x", "shape": [` + strconv.Itoa(n) + `], "datatype": "FP32", "data": [` + strings.Join(toks, ", ") + `]}]}`)
	req, err := ParseInfer(body, -1, ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	ins, _, err := req.Inputs(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := arenaBytes(t, ins[0])
	tfs, _, err := ParsePredict([]byte(`{"inputs": {"x": [`+strings.Join(toks, ",")+`]}}`),
		[]device.TensorInfo{{Name: "x", DType: device.Float32, Shape: []int64{-1}}}, ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	gotTFS := arenaBytes(t, tfs.Inputs[0])
	for i, tok := range toks {
		d, _ := strconv.ParseFloat(tok, 64)
		if tok == "-0" {
			d = 0 // an integer: GetDouble gives 0
		}
		want := math.Float32bits(float32(d))
		if g := binary.LittleEndian.Uint32(got[4*i:]); g != want {
			t.Fatalf("KServe %s: %#x, want %#x", tok, g, want)
		}
		wantTFS := want
		if v, err := strconv.ParseInt(tok, 10, 64); err == nil {
			wantTFS = math.Float32bits(float32(v)) // static_cast<float>(GetInt64())
		} else if v, err := strconv.ParseUint(tok, 10, 64); err == nil {
			wantTFS = math.Float32bits(float32(v))
		}
		if g := binary.LittleEndian.Uint32(gotTFS[4*i:]); g != wantTFS {
			t.Fatalf("TFS %s: %#x, want %#x", tok, g, wantTFS)
		}
	}

	// Integer datatypes: KServe takes integers in range only.
	ints := make([]string, 100)
	for i := range ints {
		ints[i] = strconv.Itoa(r.IntN(1<<16) - 1<<15)
	}
	for _, tt := range []struct {
		dt, last string
		ok       bool
	}{
		{"INT32", "-2147483648", true}, {"INT32", "2147483648", false}, {"INT32", "1.0", false},
		{"INT16", "-5", true}, {"INT64", "-9223372036854775808", true}, {"INT64", "9223372036854775808", false},
		{"UINT64", "18446744073709551615", true}, {"UINT64", "-1", false}, {"UINT32", "4294967295", true},
	} {
		list := strings.Join(append(append([]string(nil), ints...), tt.last), ", ")
		if strings.HasPrefix(tt.dt, "UINT") {
			list = strings.ReplaceAll(list, "-", "")
			if tt.last == "-1" {
				list += ", -1"
			}
		}
		// The shape declares every value (values past it are only counted).
		n := strings.Count(list, ",") + 1
		body := []byte(`{"inputs": [{"name": "x", "shape": [` + strconv.Itoa(n) + `], "datatype": "` + tt.dt + `", "data": [` + list + `]}]}`)
		req, err := ParseInfer(body, -1, ParseLimits{})
		if (err == nil) != tt.ok {
			t.Fatalf("%s %s: error %v", tt.dt, tt.last, err)
		}
		if err != nil {
			continue
		}
		ins, _, _ := req.Inputs(nil)
		dst := arenaBytes(t, ins[0])
		toksI := strings.Split(list, ", ")
		size := ins[0].DType.Size()
		for i, tok := range toksI {
			var want uint64
			if v, err := strconv.ParseInt(tok, 10, 64); err == nil {
				want = uint64(v)
			} else {
				want, _ = strconv.ParseUint(tok, 10, 64)
			}
			var g uint64
			switch size {
			case 2:
				g, want = uint64(binary.LittleEndian.Uint16(dst[2*i:])), want&0xffff
			case 4:
				g, want = uint64(binary.LittleEndian.Uint32(dst[4*i:])), want&0xffffffff
			default:
				g = binary.LittleEndian.Uint64(dst[8*i:])
			}
			if g != want {
				t.Fatalf("%s %s: %#x, want %#x", tt.dt, tok, g, want)
			}
		}
	}
}

// A syntax error anywhere wins over any error the parser meets, wherever
// it is: RapidJSON parses the whole body before OVMS looks at it.
func TestSyntaxErrorsInLongRunsWin(t *testing.T) {
	long := strings.Repeat("0.25, ", 40)
	in := func(data string) string {
		return `{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [` + data + `]}]}`
	}
	for _, tt := range []struct {
		name, body, msg string
	}{
		{"in the data", in(long + `1.x`), "Miss fraction part in number"},
		{"two numbers", in(long + `1 2`), "Missing a comma or ']' after an array element"},
		{"leading zero", in(long + `01`), "Missing a comma or ']' after an array element"},
		{"fraction", in(long + `1.`), "Miss fraction part in number"},
		{"too big", in(long + `1e999`), "Number too big to be stored in double"},
		{"trailing comma", in(long + `1,`), "Invalid value"},
		{"control byte", in(long + "1\x01"), "Missing a comma or ']' after an array element"},
		{"after a semantic error", `{"id": 5, "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [` + long + `+1]}]}`, "Invalid value"},
		{"in data of a bad type", `{"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [` + long + `1..5]}]}`, "Miss fraction part in number"},
		{"in an unknown member", `{"foo": [` + long + `-], "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}`, "Invalid value"},
		{"before a structural error", in(long+`1e`) + `}`, "Miss exponent in number"},
		{"run after a structural error", `{"a": [}, "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [` + long + `1e]}]}`, "Invalid value. Offset: 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, body := range []string{tt.body, strings.Replace(tt.body, `"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [`, `"instances": [[`, 1)} {
				want := rjson.Validate([]byte(body), maxJSONDepth)
				if want == nil {
					t.Fatalf("%s: valid", body)
				}
				wantMsg := "The file is not valid json - " + want.Error()
				_, err := ParseInfer([]byte(body), -1, ParseLimits{})
				if status, msg := errText(err); status != 412 || msg != wantMsg || !strings.Contains(msg, tt.msg) {
					t.Errorf("ParseInfer: %d %q, want 412 %q", status, msg, wantMsg)
				}
				_, _, err = ParsePredict([]byte(body), dummyInputs, ParseLimits{})
				if status, msg := errText(err); status != 412 || msg != wantMsg {
					t.Errorf("ParsePredict: %d %q, want 412 %q", status, msg, wantMsg)
				}
			}
		})
	}
}

func TestSizeHint(t *testing.T) {
	budget := newBudget(rjson.NewCursor(make([]byte, 100)))
	for _, tt := range []struct {
		shape []int64
		want  int
	}{
		{nil, 1}, {[]int64{2, 3}, 6}, {[]int64{-1, 4}, 4}, {[]int64{0, 5}, 0}, {[]int64{1 << 40, 1 << 40}, 40}, {[]int64{1000}, 0},
	} {
		if got := sizeHint(tt.shape, &budget); got != tt.want {
			t.Errorf("sizeHint(%v) = %d, want %d", tt.shape, got, tt.want)
		}
	}
}

func FuzzParseMatchesReference(f *testing.F) {
	r := rand.New(rand.NewPCG(27, 28))
	for range 8 {
		f.Add(randInferBody(r))
	}
	long := strings.Repeat("1.5, -2, 3e2, ", 10)
	f.Add([]byte(`{"instances": [[` + long + `4], [` + long + `5]]}`))
	f.Add([]byte(`{"inputs": {"b": [` + long + `4], "a": [[` + long + `1]]}}`))
	f.Add([]byte(`{"instances": [{"b": [` + long + `4]}, {"b": [` + long + `x]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseInfer(body, -1, ParseLimits{})
		rreq, rerr := refParseInfer(body, -1)
		if got, want := inferOutcome(t, req, err), inferOutcome(t, rreq, rerr); got != want {
			t.Fatalf("ParseInfer(%q, ParseLimits{})\ngot  %s\nwant %s", body, got, want)
		}
		for _, inputs := range [][]device.TensorInfo{dummyInputs, twoInputs} {
			req, order, err := ParsePredict(body, inputs, ParseLimits{})
			rreq, rorder, rerr := refParsePredict(body, inputs)
			if got, want := predictOutcome(t, req, order, err), predictOutcome(t, rreq, rorder, rerr); got != want {
				t.Fatalf("ParsePredict(%q, ParseLimits{})\ngot  %s\nwant %s", body, got, want)
			}
		}
	})
}

// The run readers' integer fast path against the per-number casts, for
// every TFS integer dtype, and KServe's range checks.
func TestIntRunsConvertAsPerNumber(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	toks := make([]string, 5000)
	for i := range toks {
		toks[i] = numberToken(r, r.IntN(5) == 0)
	}
	toks = append(toks, "-0", "0", "-1", "1", "-9999999", "9999999", "-10000000", "10000000", "127", "128", "-128", "-129", "255", "256", "65535", "-32769")
	body := []byte(`{"inputs": {"x": [` + strings.Join(toks, ",") + `]}}`)
	for _, dt := range []tensor.DataType{device.Int8, device.Uint8, device.Int16, device.Uint16, device.Int32, device.Uint32, device.Int64, device.Uint64,
		device.Float32, device.Float64, device.Float16, device.BFloat16} {
		req, _, err := ParsePredict(body, []device.TensorInfo{{Name: "x", DType: dt, Shape: []int64{-1}}}, ParseLimits{})
		if err != nil {
			t.Fatal(err)
		}
		want := castSink(dt, 0, newGate("x", unbounded, nil))
		for _, tok := range toks {
			want.add(rjson.ParseNumber([]byte(tok)))
		}
		wantIn := tensor.Input{Name: "x", DType: dt, Values: want.values()}
		if got, w := arenaBytes(t, req.Inputs[0]), arenaBytes(t, wantIn); !bytes.Equal(got, w) {
			t.Fatalf("%v: %x\nwant %x", dt, got, w)
		}
	}
	// KServe: integers in range only; -0 is an unsigned integer.
	for _, tt := range []struct {
		dt   string
		toks string
		ok   bool
	}{
		{"UINT8", strings.Repeat("7, ", 30) + "-0", true},
		{"UINT8", strings.Repeat("7, ", 30) + "-1", false},
		{"UINT32", strings.Repeat("7, ", 30) + "-5", false},
		{"UINT64", strings.Repeat("7, ", 30) + "-0, 18446744073709551615", true},
		{"INT8", strings.Repeat("-7, ", 30) + "-2147483648", true},
		{"INT8", strings.Repeat("-7, ", 30) + "-2147483649", false},
		{"INT32", strings.Repeat("7, ", 30) + "1e0", false},
	} {
		_, err := ParseInfer([]byte(`{"inputs": [{"name": "x", "shape": [1], "datatype": "`+tt.dt+`", "data": [`+tt.toks+`]}]}`), -1, ParseLimits{})
		if (err == nil) != tt.ok {
			t.Errorf("%s [%s]: error %v", tt.dt, tt.toks, err)
		}
	}
}
