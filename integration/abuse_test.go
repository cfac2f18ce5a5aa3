package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// The attacks of issue 11 (items 1, 2, 3 and 5): each is sent to a fresh
// server, and each test checks the answer and the peak resident memory
// (VmHWM) of the core and of its CPU plugin against a stated bound.

// memWatch records the resident memory of the core and its plugin before
// an attack, to bound their peaks (VmHWM) after it.
type memWatch struct {
	core, plugin         int
	coreBase, pluginBase int64 // VmRSS before, KiB
}

func watchMemory(t *testing.T, s *server) *memWatch {
	t.Helper()
	w := &memWatch{core: s.cmd.Process.Pid, plugin: pluginPid(t, s)}
	w.coreBase, w.pluginBase = procKB(t, w.core, "VmRSS"), procKB(t, w.plugin, "VmRSS")
	return w
}

// check fails when the peak of the core or of the plugin rose more than
// the bounds (MiB) above their resident memory before the attack.
func (w *memWatch) check(t *testing.T, what string, coreMiB, pluginMiB int64) {
	t.Helper()
	ch, ph := procKB(t, w.core, "VmHWM"), procKB(t, w.plugin, "VmHWM")
	t.Logf("%s: core RSS %d MiB before, peak %d MiB; plugin RSS %d MiB before, peak %d MiB",
		what, w.coreBase>>10, ch>>10, w.pluginBase>>10, ph>>10)
	if grew := (ch - w.coreBase) >> 10; grew > coreMiB {
		t.Errorf("%s: the core's peak RSS rose %d MiB (bound %d MiB)", what, grew, coreMiB)
	}
	if grew := (ph - w.pluginBase) >> 10; grew > pluginMiB {
		t.Errorf("%s: the plugin's peak RSS rose %d MiB (bound %d MiB)", what, grew, pluginMiB)
	}
	// The memory is not kept afterwards: the core gives it back within a
	// few seconds of the last large request.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rss := procKB(t, w.core, "VmRSS")
		if (rss-w.coreBase)>>10 <= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: the core still holds %d MiB more than before, 10 s after the attack", what, (rss-w.coreBase)>>10)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// abuseServer serves dummy ([1,10] FP32), dummy_dynamic ([-1,-1] FP32)
// and string_passthrough ([-1] BYTES) from one plugin, warmed up by one
// good request each.
func abuseServer(t *testing.T, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	var list []string
	for _, m := range []string{"dummy", "dummy_dynamic", "string_passthrough"} {
		list = append(list, fmt.Sprintf(`{"config": {"name": %q, "base_path": %q}}`, m, filepath.Join(modelsDir, m)))
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [`+strings.Join(list, ",")+`]}`)
	s := startArgs(t, append([]string{"--config_path", cfg, "--file_system_poll_wait_seconds", "0"}, extra...)...)
	for _, c := range []struct{ path, body string }{
		{"/v2/models/dummy/infer", `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`},
		{"/v2/models/dummy_dynamic/infer", `{"inputs":[{"name":"b","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}`},
		{"/v2/models/string_passthrough/infer", `{"inputs":[{"name":"my_name","shape":[2],"datatype":"BYTES","data":["a","bc"]}]}`},
	} {
		if code, body := post(t, s.url(c.path), c.body); code != http.StatusOK {
			t.Fatalf("warm-up %s: %d %s", c.path, code, body)
		}
	}
	return s
}

// repeated is prefix + n copies of item joined by commas + suffix.
func repeated(prefix, item string, n int, suffix string) []byte {
	var b bytes.Buffer
	b.Grow(len(prefix) + n*(len(item)+1) + len(suffix))
	b.WriteString(prefix)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	b.WriteString(suffix)
	return b.Bytes()
}

// postBytes posts body and returns the status and the "error" of the
// answer (or the whole body when it has none).
func postBytes(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return resp.StatusCode, e.Error
	}
	return resp.StatusCode, string(b)
}

// expectError checks an answer's status and message prefix.
func expectError(t *testing.T, code int, msg string, wantCode int, wantPrefix string) {
	t.Helper()
	if code != wantCode || !strings.HasPrefix(msg, wantPrefix) {
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		t.Errorf("got %d %q, want %d %q...", code, msg, wantCode, wantPrefix)
	}
}

// The JSON bodies of item 1: more values than the declared shape takes
// must not be materialised. Before the fix: a 100 MiB FP32 body to a
// [1,10] input took the core from 44 to 987 MB; 35M empty strings to a
// BYTES [1] input took 3.3 GB; through TFS REST the plugin took 2.7 GB too.
func TestAbuseJSONBodiesStayBounded(t *testing.T) {
	const floats = 100 << 20 / 4 // "1.5," is 4 bytes: a 100 MiB body
	const strs = 12_000_000      // `"",` is 3 bytes: a 34 MiB body
	t.Run("kserve fp32 past a static shape", func(t *testing.T) {
		s := abuseServer(t)
		w := watchMemory(t, s)
		body := repeated(`{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[`, "1.5", floats, `]}]}`)
		code, msg := postBytes(t, s.url("/v2/models/dummy/infer"), body)
		expectError(t, code, msg, http.StatusBadRequest,
			fmt.Sprintf("Invalid number of values in tensor proto container - Expected: 10 values; Actual: %d values; input name: b", floats))
		// The body (100 MiB) is held in chunks, then in one buffer for
		// the JSON parser: twice, plus 40 MiB.
		w.check(t, "100 MiB of FP32 values for 10", 240, 20)
	})
	t.Run("kserve fp32 past the memory limit", func(t *testing.T) {
		s := abuseServer(t, "--max_request_memory_mb", "16")
		w := watchMemory(t, s)
		n := 8 << 20 // 32 MiB of values, 16 allowed
		body := repeated(fmt.Sprintf(`{"inputs":[{"name":"b","shape":[1,%d],"datatype":"FP32","data":[`, n), "1.5", n, `]}]}`)
		code, msg := postBytes(t, s.url("/v2/models/dummy_dynamic/infer"), body)
		expectError(t, code, msg, http.StatusRequestEntityTooLarge, "Request is too large - model dummy_dynamic version 1 input b: ")
		// The body (about 32 MiB) twice, the limit and 40 MiB.
		w.check(t, "32 MiB of values over a 16 MiB limit", 2*32+16+40, 20)
	})
	t.Run("kserve bytes past the request shape", func(t *testing.T) {
		s := abuseServer(t)
		w := watchMemory(t, s)
		body := repeated(`{"inputs":[{"name":"my_name","shape":[1],"datatype":"BYTES","data":[`, `""`, strs, `]}]}`)
		code, msg := postBytes(t, s.url("/v2/models/string_passthrough/infer"), body)
		expectError(t, code, msg, http.StatusBadRequest,
			fmt.Sprintf("Invalid number of values in tensor proto container - Expected: 1 values; Actual: %d values; input name: my_name", strs))
		w.check(t, "12M empty strings for 1", 2*34+40, 20)
	})
	t.Run("tfs row strings past the memory limit", func(t *testing.T) {
		s := abuseServer(t)
		w := watchMemory(t, s)
		body := repeated(`{"instances":[`, `""`, strs, `]}`)
		code, msg := postBytes(t, s.url("/v1/models/string_passthrough:predict"), body)
		expectError(t, code, msg, http.StatusRequestEntityTooLarge, "Request is too large - model string_passthrough version 1 input my_name: ")
		// The body twice, the default request limit (128 MiB) and 40 MiB.
		w.check(t, "12M empty strings in TFS rows", 2*34+128+40, 20)
	})
	t.Run("tfs column fp32 past a static shape", func(t *testing.T) {
		s := abuseServer(t)
		w := watchMemory(t, s)
		body := repeated(`{"inputs":{"b":[[`, "1.5", floats, `]]}}`)
		code, msg := postBytes(t, s.url("/v1/models/dummy:predict"), body)
		expectError(t, code, msg, http.StatusBadRequest, fmt.Sprintf("Invalid input shape - Expected: (1,10); Actual: (1,%d); input name: b", floats))
		w.check(t, "100 MiB of FP32 values in TFS columns", 240, 20)
	})
	t.Run("tfs row fp32 past a static shape", func(t *testing.T) {
		s := abuseServer(t)
		w := watchMemory(t, s)
		body := repeated(`{"instances":[[`, "1.5", floats, `]]}`)
		code, msg := postBytes(t, s.url("/v1/models/dummy:predict"), body)
		expectError(t, code, msg, http.StatusBadRequest, fmt.Sprintf("Invalid input shape - Expected: (1,10); Actual: (1,%d); input name: b", floats))
		w.check(t, "100 MiB of FP32 values in TFS rows", 240, 20)
	})
}

// Item 5: one value broadcast over [8192,8192] (a 44-byte Predict) built a
// 256 MiB tensor in the core and in the plugin (RSS +850 MB each).
func TestAbuseBroadcastStaysBounded(t *testing.T) {
	s := abuseServer(t)
	w := watchMemory(t, s)
	tc := tfspb.NewPredictionServiceClient(s.conn)
	_, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy_dynamic"},
		Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(8192, 8192), FloatVal: []float32{1}}}})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "Request is too large - model dummy_dynamic version 1 input b: ") {
		t.Errorf("got %v %q, want RESOURCE_EXHAUSTED \"Request is too large - model dummy_dynamic version 1 input b: ...\"", st.Code(), st.Message())
	}
	w.check(t, "a broadcast to [8192,8192]", 60, 20)
	// A broadcast within the limit still works.
	resp, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy_dynamic"},
		Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(2, 3), FloatVal: []float32{1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f32s(resp.GetOutputs()["a"].GetTensorContent()); len(got) != 6 || got[0] != 2 || got[5] != 2 {
		t.Errorf("broadcast within the limit gave %v", got)
	}
}

// Raw BYTES over KServe gRPC: 100 MiB of zero-length elements (26M
// 4-byte length prefixes) for a BYTES [1] input. Each element became a
// 24-byte view before the count was checked.
func TestAbuseRawStringsStayBounded(t *testing.T) {
	s := abuseServer(t)
	w := watchMemory(t, s)
	const n = 100 << 20 / 4
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "string_passthrough",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "my_name", Datatype: "BYTES", Shape: []int64{1}}},
		RawInputContents: [][]byte{make([]byte, 4*n)}})
	st := status.Convert(err)
	want := fmt.Sprintf("Invalid number of values in tensor proto container - Expected: 1 values; Actual: %d values; input name: my_name", n)
	if st.Code() != codes.InvalidArgument || st.Message() != want {
		t.Errorf("got %v %q, want INVALID_ARGUMENT %q", st.Code(), st.Message(), want)
	}
	// The message (100 MiB) as gRPC received it, and 40 MiB.
	w.check(t, "26M raw empty strings for 1", 100+40, 20)
}

// openAbusive opens n connections that each send the request head and
// then write body slowly forever (or never); it returns them.
func openAbusive(t *testing.T, s *server, n int, head string, first string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.restPort))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, head+first); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// closedWithin waits until the server has closed every connection (reads
// reach EOF or an error other than the client's own deadline) and returns
// how many were still open after limit.
func closedWithin(conns []net.Conn, limit time.Duration) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	deadline := time.Now().Add(limit)
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, bufio.NewReader(c))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				mu.Lock()
				open++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	return open
}

// timedInfer runs one good KServe REST request and returns how long it took.
func timedInfer(t *testing.T, s *server) time.Duration {
	t.Helper()
	start := time.Now()
	code, body := post(t, s.url("/v2/models/dummy/infer"), `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`)
	if code != http.StatusOK {
		t.Errorf("good request during the attack: %d %s", code, body)
	}
	return time.Since(start)
}

// Item 2: 200 connections announcing Content-Length: 1000000000 and
// sending one byte took the core to 3.26 GB, were never closed, and a
// normal request took 4.7 s. Item 3: a chunked body that never ends held
// its connection forever.
func TestAbuseSlowBodies(t *testing.T) {
	const n = 200
	const readTimeout = 3 // seconds (--rest_read_timeout_seconds)
	cases := []struct{ name, head, first string }{
		{"huge content length", "POST /v2/models/dummy/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n", "{"},
		{"endless chunked body", "POST /v2/models/dummy/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", "1\r\n{\r\n"},
		// A route that answers without reading the body: net/http then
		// reads up to 256 KiB of it to reuse the connection.
		{"endless chunked body to a route that does not read it", "POST /v2/models/dummy/ready HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "1\r\n{\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := abuseServer(t, "--rest_read_timeout_seconds", strconv.Itoa(readTimeout))
			w := watchMemory(t, s)
			conns := openAbusive(t, s, n, c.head, c.first)
			time.Sleep(500 * time.Millisecond) // the server has read them all
			if d := timedInfer(t, s); d > time.Second {
				t.Errorf("a good request took %v while %d abusive connections were open", d, n)
			}
			// Keep trickling into half of them: a byte a second is below any
			// minimum rate.
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
					for _, cn := range conns[:n/2] {
						if strings.Contains(c.head, "chunked") {
							_, _ = io.WriteString(cn, "1\r\n \r\n")
						} else {
							_, _ = io.WriteString(cn, " ")
						}
					}
				}
			}()
			open := closedWithin(conns, (readTimeout+5)*time.Second)
			close(stop)
			if open > 0 {
				t.Errorf("%d of %d connections still open %ds after they stalled (read timeout %ds)", open, n, readTimeout+5, readTimeout)
			}
			w.check(t, fmt.Sprintf("%d connections: %s", n, c.name), 60, 20)
			if d := timedInfer(t, s); d > time.Second {
				t.Errorf("a good request took %v after the attack", d)
			}
			s.alive()
		})
	}
}

// A large body sent at a steady, modest rate is not cut by the read
// timeout: the deadline grows with the bytes received.
func TestAbuseSlowButSteadyUploadSucceeds(t *testing.T) {
	s := abuseServer(t, "--rest_read_timeout_seconds", "1")
	n := 200_000 // about 1 MB of JSON, sent over about 3 s
	body := repeated(fmt.Sprintf(`{"inputs":[{"name":"b","shape":[1,%d],"datatype":"FP32","data":[`, n), "1.5", n, `]}]}`)
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(body); off += 64 << 10 {
			_, _ = pw.Write(body[off:min(off+64<<10, len(body))])
			time.Sleep(200 * time.Millisecond)
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, s.url("/v2/models/dummy_dynamic/infer"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("steady upload: %d %.300s", resp.StatusCode, b)
	}
}

// Idle keep-alive connections are closed after --rest_idle_timeout_seconds,
// and idle gRPC connections after --grpc_max_connection_idle_seconds.
func TestAbuseIdleConnectionsAreClosed(t *testing.T) {
	s := abuseServer(t, "--rest_idle_timeout_seconds", "2", "--grpc_max_connection_idle_seconds", "2")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.restPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("live: %v %v", resp, err)
	}
	if open := closedWithin([]net.Conn{c}, 6*time.Second); open > 0 {
		t.Errorf("an idle REST keep-alive connection was still open after 6 s (idle timeout 2 s)")
	}
	// gRPC: a connection that only says hello (the HTTP/2 preface and
	// SETTINGS) and then stays idle gets a GOAWAY and is closed: after the
	// idle timeout plus the 5 s gRPC waits for the ack of the ping it sends
	// with its first GOAWAY (which this client never answers).
	g, err := net.Dial("tcp", s.grpcAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := io.WriteString(g, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	if open := closedWithin([]net.Conn{g}, 12*time.Second); open > 0 {
		t.Errorf("an idle gRPC connection was still open after 12 s (idle timeout 2 s)")
	}
}

// gRPC keepalive enforcement: a client may ping, even without calls, as
// often as --grpc_keepalive_min_time_seconds allows; one that pings more
// often is sent GOAWAY too_many_pings and closed.
func TestAbuseGRPCPingEnforcement(t *testing.T) {
	s := abuseServer(t, "--grpc_keepalive_min_time_seconds", "1")
	ping := func(every time.Duration, n int) (goAway *http2.GoAwayFrame, err error) {
		c, err := net.Dial("tcp", s.grpcAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(c, c)
		// The framer's writes share one buffer: the reader's SETTINGS ack
		// and the pings below must not interleave (they did under load,
		// and the server then saw a garbled frame and closed).
		var writeMu sync.Mutex
		write := func(f func() error) error {
			writeMu.Lock()
			defer writeMu.Unlock()
			return f()
		}
		if err := write(func() error { return fr.WriteSettings() }); err != nil {
			t.Fatal(err)
		}
		frames := make(chan http2.Frame, 64)
		go func() {
			defer close(frames)
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				if g, ok := f.(*http2.GoAwayFrame); ok {
					frames <- &http2.GoAwayFrame{ErrCode: g.ErrCode, LastStreamID: g.LastStreamID}
					continue
				}
				if st, ok := f.(*http2.SettingsFrame); ok && !st.IsAck() {
					_ = write(fr.WriteSettingsAck)
				}
			}
		}()
		for i := 0; i < n; i++ {
			if err := write(func() error { return fr.WritePing(false, [8]byte{byte(i)}) }); err != nil {
				// The server may have sent its GOAWAY and closed before
				// this write: the frame is then still on its way to
				// the reader.
				for f := range frames {
					return f.(*http2.GoAwayFrame), nil
				}
				return nil, err
			}
			select {
			case f, ok := <-frames:
				if !ok {
					return nil, io.EOF
				}
				return f.(*http2.GoAwayFrame), nil
			case <-time.After(every):
			}
		}
		return nil, nil
	}
	if g, err := ping(1500*time.Millisecond, 4); g != nil || err != nil {
		t.Errorf("pings every 1.5 s without calls (allowed every 1 s): GOAWAY %v, %v", goAwayCode(g), err)
	}
	g, err := ping(100*time.Millisecond, 40)
	if g == nil || g.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("pings every 100 ms: got GOAWAY %v, %v; want ENHANCE_YOUR_CALM (too_many_pings)", goAwayCode(g), err)
	}
}

func goAwayCode(g *http2.GoAwayFrame) string {
	if g == nil {
		return "none"
	}
	return g.ErrCode.String()
}
