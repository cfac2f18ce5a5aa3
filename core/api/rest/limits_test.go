package rest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// numbers is n comma-separated copies of tok.
func numbers(tok string, n int) string {
	return strings.TrimSuffix(strings.Repeat(tok+",", n), ",")
}

// staticLimits bounds a request to the given static model inputs.
func staticLimits(budget int64, inputs ...device.TensorInfo) ParseLimits {
	return ParseLimits{Budget: tensor.NewBudget(budget), Inputs: inputs}
}

// Values past the declared shape are counted, not kept, and validation
// then reports the full count with OVMS's message.
func TestValuesPastTheShapeAreCountedNotKept(t *testing.T) {
	model := []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{1, 10}}}
	strModel := []device.TensorInfo{{Name: "s", DType: device.String, Shape: []int64{1}}}
	tests := []struct {
		name  string
		parse func() (*tensor.Request, error)
		model []device.TensorInfo
		kept  int
		want  string
	}{
		{"kserve past the request shape", func() (*tensor.Request, error) {
			return kserveRequest(t, `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[`+numbers("1.5", 5000)+`]}]}`, ParseLimits{})
		}, model, 10, "Invalid number of values in tensor proto container - Expected: 10 values; Actual: 5000 values; input name: b"},
		{"kserve past the model shape", func() (*tensor.Request, error) {
			return kserveRequest(t, `{"inputs":[{"name":"b","shape":[1,5000],"datatype":"FP32","data":[[`+numbers("7", 5000)+`]]}]}`, staticLimits(0, model...))
		}, model, 10, "Invalid input shape - Expected: (1,10); Actual: (1,5000); input name: b"},
		{"kserve strings past the request shape", func() (*tensor.Request, error) {
			return kserveRequest(t, `{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":[`+numbers(`""`, 3000)+`]}]}`, ParseLimits{})
		}, strModel, 1, "Invalid number of values in tensor proto container - Expected: 1 values; Actual: 3000 values; input name: s"},
		{"kserve bools past the request shape", func() (*tensor.Request, error) {
			return kserveRequest(t, `{"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","data":[`+numbers("true", 300)+`]}]}`, ParseLimits{})
		}, []device.TensorInfo{{Name: "b", DType: device.Bool, Shape: []int64{2}}}, 2, "Invalid number of values in tensor proto container - Expected: 2 values; Actual: 300 values; input name: b"},
		{"kserve binary strings past the request shape", func() (*tensor.Request, error) {
			js := `{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":4000}}]}`
			body := append([]byte(js), bytes.Repeat([]byte{0, 0, 0, 0}, 1000)...)
			r, err := ParseInfer(body, len(js), ParseLimits{})
			if err != nil {
				return nil, err
			}
			ins, _, err := r.Inputs(nil)
			return &tensor.Request{API: tensor.KServe, Inputs: ins}, err
		}, strModel, 1, "Invalid number of values in tensor proto container - Expected: 1 values; Actual: 1000 values; input name: s"},
		{"tfs column past the model shape", func() (*tensor.Request, error) {
			r, _, err := ParsePredict([]byte(`{"inputs":{"b":[[`+numbers("1.5", 4000)+`]]}}`), model, staticLimits(0, model...))
			return r, err
		}, model, 10, "Invalid input shape - Expected: (1,10); Actual: (1,4000); input name: b"},
		{"tfs row past the model shape", func() (*tensor.Request, error) {
			r, _, err := ParsePredict([]byte(`{"instances":[[`+numbers("2", 40)+`],[`+numbers("3", 40)+`]]}`), model, staticLimits(0, model...))
			return r, err
		}, model, 10, "Invalid input batch size - Expected: 1; Actual: 2; input name: b"},
		{"tfs strings past the model shape", func() (*tensor.Request, error) {
			r, _, err := ParsePredict([]byte(`{"instances":[`+numbers(`{"b64":"aGk="}`, 50)+`]}`), strModel, staticLimits(0, strModel...))
			return r, err
		}, strModel, 1, "Invalid input batch size - Expected: 1; Actual: 50; input name: s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.parse()
			if err != nil {
				t.Fatal(err)
			}
			in := req.Inputs[0]
			if kept := len(in.Strings); in.Values != nil {
				kept = in.Values.Len()
			} else if kept != tt.kept {
				t.Errorf("kept %d strings, want %d", kept, tt.kept)
			}
			if in.Values != nil && in.Values.Len() != tt.kept {
				t.Errorf("kept %d values, want %d", in.Values.Len(), tt.kept)
			}
			if _, msg := errText(tensor.Validate(tt.model, req)); msg != tt.want {
				t.Errorf("validation: %q\nwant %q", msg, tt.want)
			}
		})
	}
}

func kserveRequest(t *testing.T, body string, lim ParseLimits) (*tensor.Request, error) {
	t.Helper()
	r, err := ParseInfer([]byte(body), -1, lim)
	if err != nil {
		return nil, err
	}
	ins, _, err := r.Inputs(nil)
	return &tensor.Request{API: tensor.KServe, Inputs: ins}, err
}

// Past the memory budget the parse fails; parse errors past a cut still
// come first (OVMS reads the whole document before it looks at it).
func TestParseStopsAtTheMemoryBudget(t *testing.T) {
	memory := func(t *testing.T, err error) {
		t.Helper()
		var me *tensor.MemoryError
		if !errors.As(err, &me) {
			t.Fatalf("got %v, want a memory error", err)
		}
		code, msg := errText(me.For("m", 2))
		if code != http.StatusRequestEntityTooLarge || !strings.HasPrefix(msg, "Request is too large - model m version 2 input ") ||
			!strings.Contains(msg, "(--max_request_memory_mb)") {
			t.Fatalf("api error %d %q", code, msg)
		}
	}
	dyn := []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{-1, -1}}}
	_, err := ParseInfer([]byte(`{"inputs":[{"name":"b","shape":[1,1000],"datatype":"FP32","data":[`+numbers("1.5", 1000)+`]}]}`), -1, staticLimits(400))
	memory(t, err)
	_, err = ParseInfer([]byte(`{"inputs":[{"name":"s","shape":[1000],"datatype":"BYTES","data":[`+numbers(`"abc"`, 1000)+`]}]}`), -1, staticLimits(1000))
	memory(t, err)
	_, _, err = ParsePredict([]byte(`{"instances":[`+numbers(`""`, 1000)+`]}`), []device.TensorInfo{{Name: "s", DType: device.String, Shape: []int64{-1}}}, staticLimits(1000))
	memory(t, err)
	_, _, err = ParsePredict([]byte(`{"inputs":{"b":[`+numbers("[1,2,3]", 1000)+`]}}`), dyn, staticLimits(1000))
	memory(t, err)
	_, _, err = ParsePredict([]byte(`{"instances":[`+numbers(`{"b64":"aGk="}`, 1000)+`]}`), []device.TensorInfo{{Name: "s", DType: device.String, Shape: []int64{-1}}}, staticLimits(1000))
	memory(t, err)
	// Within the budget all is kept.
	if _, _, err := ParsePredict([]byte(`{"inputs":{"b":[`+numbers("[1,2,3]", 10)+`]}}`), dyn, staticLimits(1000)); err != nil {
		t.Fatal(err)
	}

	// An integer out of range past the cut, a bad number past the cut.
	_, err = ParseInfer([]byte(`{"inputs":[{"name":"b","shape":[1],"datatype":"INT32","data":[`+numbers("1", 100)+`, 99999999999]}]}`), -1, ParseLimits{})
	if _, msg := errText(err); msg != "Could not parse input content. Not valid ndarray detected" {
		t.Errorf("out of range past the cut: %q", msg)
	}
	_, err = ParseInfer([]byte(`{"inputs":[{"name":"b","shape":[1],"datatype":"FP32","data":[`+numbers("1", 100)+`, 01]}]}`), -1, ParseLimits{})
	if code, _ := errText(err); code != http.StatusPreconditionFailed {
		t.Errorf("bad JSON past the cut: %v", err)
	}
}

// The body reader returns exactly what was sent, in chunks it does not
// size by Content-Length, and binary inputs stay views of those chunks.
func TestBodyChunks(t *testing.T) {
	s, _, _ := newTestServer(t)
	for _, n := range []int{0, 1, 16 << 10, 16<<10 + 1, 3<<20 + 5} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		r := httptest.NewRequest("POST", "/", bytes.NewReader(payload))
		r.ContentLength = 1 << 29 // a lie: nothing is sized by it
		b, err := s.readBody(httptest.NewRecorder(), r)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() != n {
			t.Fatalf("%d bytes: read %d", n, b.Len())
		}
		for _, c := range b.chunks {
			if cap(c) > 1<<maxChunkShift {
				t.Fatalf("%d bytes: a chunk of %d", n, cap(c))
			}
		}
		var joined []byte
		for _, p := range b.Parts(3, max(n-10, 0)) {
			joined = append(joined, p...)
		}
		if n > 10 && !bytes.Equal(joined, payload[3:n-7]) {
			t.Fatalf("%d bytes: parts differ", n)
		}
		if got := b.Bytes(); !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: body differs", n)
		}
		b.release()
	}
}

// A KServe binary body read in chunks: the JSON prefix and the binary
// inputs, across chunk boundaries.
func TestBinaryInputsAcrossChunks(t *testing.T) {
	n := 300_000 // FP32 values: 1.2 MB of binary data, several chunks
	js := `{"inputs":[{"name":"b","shape":[1,` + strconv.Itoa(n) + `],"datatype":"FP32","parameters":{"binary_data_size":` + strconv.Itoa(4*n) + `}},` +
		`{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":15}}]}`
	data := f32Bytes(seq(n, 0)...)
	raw := append(append([]byte(js), data...), lenPrefixed("hi", "there")...)
	s, _, _ := newTestServer(t)
	b, err := s.readBody(httptest.NewRecorder(), httptest.NewRequest("POST", "/", bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.release()
	req, err := parseReceived(b, len(js), ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	ins, _, err := req.Inputs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins[0].RawParts) < 2 {
		t.Errorf("binary data in %d part(s): not views of the chunks", len(ins[0].RawParts))
	}
	if got := arenaBytes(t, ins[0]); !bytes.Equal(got, data) {
		t.Error("binary FP32 data differs")
	}
	if len(ins[1].Strings) != 2 || string(ins[1].Strings[1]) != "there" {
		t.Errorf("strings %q", ins[1].Strings)
	}
}

// A body that stalls is cut after the read timeout (408, connection
// closed); one that arrives at the minimum rate is not.
func TestBodyReadDeadline(t *testing.T) {
	s, _, _ := newTestServer(t)
	s.SetLimits(Limits{ReadTimeout: 300 * time.Millisecond, BodyMinRate: 64 << 10})
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, "POST /v2/models/dummy/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "Request body was not received in time") {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection stayed open")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut after %v", d)
	}
}

// A JSON part longer than the first chunk is copied out alone: the binary
// inputs after it stay views of the chunks, not of a copy of the body.
func TestLongJSONPrefixKeepsBinaryViews(t *testing.T) {
	n := 300_000
	pad := strings.Repeat(" ", 40<<10) // the JSON spans the first chunks
	js := `{"inputs":[{"name":"b","shape":[1,` + strconv.Itoa(n) + `],"datatype":"FP32","parameters":{"binary_data_size":` + strconv.Itoa(4*n) + `}}]` + pad + `}`
	data := f32Bytes(seq(n, 0)...)
	s, _, _ := newTestServer(t)
	b, err := s.readBody(httptest.NewRecorder(), httptest.NewRequest("POST", "/", bytes.NewReader(append([]byte(js), data...))))
	if err != nil {
		t.Fatal(err)
	}
	defer b.release()
	req, err := parseReceived(b, len(js), ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.whole != nil {
		t.Errorf("the whole body (%d bytes) was copied to read a JSON part of %d", len(b.whole), len(js))
	}
	ins, _, err := req.Inputs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := arenaBytes(t, ins[0]); !bytes.Equal(got, data) {
		t.Error("binary FP32 data differs")
	}
}

// The limits of a request to a known model take no allocation beyond its
// budget: they share the version's inputs.
func TestParseLimitsShareTheModelInputs(t *testing.T) {
	s, _ := startDummy(t)
	v, err := s.models.Available("dummy", 0)
	if err != nil {
		t.Fatal(err)
	}
	if l := s.parseLimits(v); l.modelCap("b", false) != 10 || l.modelCap("b", true) != unbounded || l.modelCap("c", false) != unbounded {
		t.Fatalf("caps %d %d %d", l.modelCap("b", false), l.modelCap("b", true), l.modelCap("c", false))
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.parseLimits(v) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
