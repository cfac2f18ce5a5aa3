package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/ovmsgo/ovms/core/tracing"
	"github.com/ovmsgo/ovms/core/tracing/tracingtest"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// clientSpan is a client's trace context: a fresh trace id and span id.
type clientSpan struct{ trace, span string }

func newClientSpan(t *testing.T) clientSpan {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return clientSpan{trace: hex.EncodeToString(b[:16]), span: hex.EncodeToString(b[16:])}
}

// traceparent is the W3C header of a sampled span.
func (c clientSpan) traceparent() string { return "00-" + c.trace + "-" + c.span + "-01" }

// withTrace is gRPC metadata that carries c.
func (c clientSpan) withTrace(*testing.T) metadata.MD {
	return metadata.Pairs("traceparent", c.traceparent())
}

// postTraced POSTs a JSON body with c's traceparent header.
func postTraced(t *testing.T, url, body string, c clientSpan) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", c.traceparent())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tracingEnv points ovms's OTLP exporter at rcv with protocol, exporting
// every 50 ms.
func tracingEnv(rcv *tracingtest.Receiver, protocol string) []string {
	endpoint := rcv.HTTPEndpoint
	if protocol == "grpc" {
		endpoint = "http://" + rcv.GRPCEndpoint
	}
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL=" + protocol,
		"OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_TRACES_EXPORTER=", "OTEL_SDK_DISABLED=", "OTEL_SERVICE_NAME=", "OTEL_TRACES_SAMPLER="}
}

// checkTree checks one request's trace: the API span named api under the
// client's span, "queue" and "plugin" its children, "engine" the plugin's
// child and within its time, attributes of model and plugin. It returns
// the API span.
func checkTree(t *testing.T, spans []tracingtest.Span, c clientSpan, api, model string, version int64) *tracingtest.Span {
	t.Helper()
	a := tracingtest.ByName(spans, api)
	q, p, e := tracingtest.ByName(spans, "queue"), tracingtest.ByName(spans, "plugin"), tracingtest.ByName(spans, "engine")
	if a == nil || q == nil || p == nil || e == nil || len(spans) != 4 {
		t.Fatalf("trace %s: want %s, queue, plugin, engine; got %+v", c.trace, api, spans)
	}
	if a.ParentSpanID != c.span || a.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("%s: parent %q kind %v, want the client's span %s, server kind", api, a.ParentSpanID, a.Kind, c.span)
	}
	if q.ParentSpanID != a.SpanID || p.ParentSpanID != a.SpanID {
		t.Errorf("queue's parent %s, plugin's %s; want the API span %s", q.ParentSpanID, p.ParentSpanID, a.SpanID)
	}
	if e.ParentSpanID != p.SpanID {
		t.Errorf("engine's parent %s, want plugin %s", e.ParentSpanID, p.SpanID)
	}
	if e.Start.Before(p.Start) || e.End.After(p.End) || !e.End.After(e.Start) {
		t.Errorf("engine %v..%v not inside plugin %v..%v", e.Start, e.End, p.Start, p.End)
	}
	for _, s := range []*tracingtest.Span{q, p} {
		if s.Start.Before(a.Start) || s.End.After(a.End) {
			t.Errorf("%s %v..%v not inside the API span %v..%v", s.Name, s.Start, s.End, a.Start, a.End)
		}
	}
	if q.End.Before(q.Start) || q.End.After(p.Start) {
		t.Errorf("queue %v..%v does not end before plugin starts %v", q.Start, q.End, p.Start)
	}
	if a.Attrs[tracing.AttrModelName] != model || a.Attrs[tracing.AttrModelVersion] != version {
		t.Errorf("API span model attributes %v", a.Attrs)
	}
	if pid, _ := p.Attrs[tracing.AttrPluginPID].(int64); pid <= 0 || p.Attrs[tracing.AttrPluginFamily] != "cpu" {
		t.Errorf("plugin attributes %v", p.Attrs)
	}
	if a.Resource["service.name"] != "ovms" || a.Resource["service.version"] == "" {
		t.Errorf("resource %v", a.Resource)
	}
	for _, s := range spans {
		if s.TraceID != c.trace {
			t.Errorf("span %s in trace %s", s.Name, s.TraceID)
		}
	}
	return a
}

// TestTracingOTLP: the real ovms, plugin and ONNX Runtime export spans of
// KServe and TFS requests over gRPC and REST to an in-process OTLP
// receiver, over both OTLP protocols, under the callers' trace context.
func TestTracingOTLP(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			rcv := tracingtest.Start(t)
			s := startEnv(t, tracingEnv(rcv, protocol), "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
			if !strings.Contains(s.log(), "tracing on") {
				t.Errorf("no 'tracing on' in the log:\n%s", s.log())
			}
			in := seq(10, 1)
			kc := kpb.NewGRPCInferenceServiceClient(s.conn)
			good := &kpb.ModelInferRequest{ModelName: "dummy",
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
				RawInputContents: [][]byte{f32bytes(in...)}}

			// KServe gRPC.
			c1 := newClientSpan(t)
			if _, err := kc.ModelInfer(metadata.NewOutgoingContext(ctx(t), c1.withTrace(t)), good); err != nil {
				t.Fatal(err)
			}
			a := checkTree(t, rcv.WaitTrace(t, c1.trace, 4, 10*time.Second), c1, "inference.GRPCInferenceService/ModelInfer", "dummy", 1)
			if a.StatusCode == tracepb.Status_STATUS_CODE_ERROR || a.Attrs["rpc.grpc.status_code"] != int64(0) || a.Protocol != protocol {
				t.Errorf("successful call's span: %+v", a)
			}

			// KServe REST.
			c2 := newClientSpan(t)
			if code, body := postTraced(t, s.url("/v2/models/dummy/infer"), `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`, c2); code != 200 {
				t.Fatalf("KServe REST: %d %s", code, body)
			}
			a = checkTree(t, rcv.WaitTrace(t, c2.trace, 4, 10*time.Second), c2, "POST /v2/models/{model_name}/infer", "dummy", 1)
			if a.Attrs["url.path"] != "/v2/models/dummy/infer" || a.Attrs[tracing.AttrAPI] != tracing.KServe || a.Attrs[tracing.AttrProtocol] != "http" {
				t.Errorf("REST span attributes %v", a.Attrs)
			}

			// TFS gRPC and REST.
			c3 := newClientSpan(t)
			pc := tfspb.NewPredictionServiceClient(s.conn)
			if _, err := pc.Predict(metadata.NewOutgoingContext(ctx(t), c3.withTrace(t)), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"},
				Inputs: map[string]*fw.TensorProto{"b": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: in}}}); err != nil {
				t.Fatal(err)
			}
			a = checkTree(t, rcv.WaitTrace(t, c3.trace, 4, 10*time.Second), c3, "tensorflow.serving.PredictionService/Predict", "dummy", 1)
			if a.Attrs[tracing.AttrAPI] != tracing.TFS {
				t.Errorf("TFS span attributes %v", a.Attrs)
			}
			c4 := newClientSpan(t)
			if code, body := postTraced(t, s.url("/v1/models/dummy/versions/1:predict"), `{"instances": [[1,2,3,4,5,6,7,8,9,10]]}`, c4); code != 200 {
				t.Fatalf("TFS REST: %d %s", code, body)
			}
			checkTree(t, rcv.WaitTrace(t, c4.trace, 4, 10*time.Second), c4, "POST /v1/models/{model_name}/versions/{model_version}:predict", "dummy", 1)

			// A stream: each request its own API span under the stream's context.
			c5 := newClientSpan(t)
			st, err := kc.ModelStreamInfer(metadata.NewOutgoingContext(ctx(t), c5.withTrace(t)))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := st.Send(good); err != nil {
					t.Fatal(err)
				}
				if r, err := st.Recv(); err != nil || r.GetErrorMessage() != "" {
					t.Fatalf("stream: %v %v", r, err)
				}
			}
			_ = st.CloseSend()
			spans := rcv.WaitTrace(t, c5.trace, 8, 10*time.Second)
			n := 0
			for _, sp := range spans {
				if sp.Name == "inference.GRPCInferenceService/ModelStreamInfer" && sp.ParentSpanID == c5.span {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d stream request spans under the client's span, want 2: %+v", n, spans)
			}

			// Failures: a wrong input name, over gRPC and REST: the API span
			// has error status with OVMS's message, and no plugin span.
			c6 := newClientSpan(t)
			bad := &kpb.ModelInferRequest{ModelName: "dummy",
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{1, 10}}},
				RawInputContents: [][]byte{f32bytes(in...)}}
			_, err = kc.ModelInfer(metadata.NewOutgoingContext(ctx(t), c6.withTrace(t)), bad)
			if err == nil {
				t.Fatal("wrong input name accepted")
			}
			failed := rcv.WaitTrace(t, c6.trace, 1, 10*time.Second)
			a = tracingtest.ByName(failed, "inference.GRPCInferenceService/ModelInfer")
			if a == nil || a.StatusCode != tracepb.Status_STATUS_CODE_ERROR || a.StatusMessage != status.Convert(err).Message() ||
				a.Attrs["rpc.grpc.status_code"] != int64(status.Code(err)) || a.ParentSpanID != c6.span {
				t.Errorf("failed gRPC request's span %+v; the client got %v", a, err)
			}
			c7 := newClientSpan(t)
			code, body := postTraced(t, s.url("/v2/models/dummy/infer"), `{"inputs":[{"name":"x","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`, c7)
			if code == 200 {
				t.Fatal("REST: wrong input name accepted")
			}
			failed = rcv.WaitTrace(t, c7.trace, 1, 10*time.Second)
			a = tracingtest.ByName(failed, "POST /v2/models/{model_name}/infer")
			if a == nil {
				t.Fatalf("no REST API span in %+v", failed)
			}
			if a.StatusCode != tracepb.Status_STATUS_CODE_ERROR || a.StatusMessage == "" || !strings.Contains(body, jsonString(a.StatusMessage)) ||
				a.Attrs["http.response.status_code"] != int64(code) {
				t.Errorf("failed REST request's span %+v; the client got %d %s", a, code, body)
			}
			for _, sp := range append(rcv.Trace(c6.trace), rcv.Trace(c7.trace)...) {
				if sp.Name == "plugin" || sp.Name == "engine" {
					t.Errorf("a request refused before inference has a %s span", sp.Name)
				}
			}

			// A request without trace context is a root span of its own trace.
			before := len(rcv.Spans())
			if _, err := kc.ModelInfer(ctx(t), good); err != nil {
				t.Fatal(err)
			}
			s.stop() // flushes
			var roots int
			for _, sp := range rcv.Spans()[before:] {
				if sp.Name == "inference.GRPCInferenceService/ModelInfer" && sp.ParentSpanID == "" {
					roots++
				}
			}
			if roots != 1 {
				t.Errorf("%d root API spans for a request without trace context, want 1", roots)
			}
		})
	}
}

// jsonString is s as the JSON error body writes it, without quotes.
func jsonString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// TestTracingDynamicBatching: requests batched together each get their
// own trace: queue (time in the batch), plugin (the batch's call, with its
// rows) and engine.
func TestTracingDynamicBatching(t *testing.T) {
	rcv := tracingtest.Start(t)
	s := startEnv(t, tracingEnv(rcv, "grpc"), "--model_name", "dummy_dynamic", "--model_path", filepath.Join(modelsDir, "dummy_dynamic"),
		"--dynamic_batching", `{"max_batch_size": 4, "max_queue_delay_microseconds": 20000}`)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	clients := make([]clientSpan, 4)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = newClientSpan(t)
		wg.Add(1)
		go func(c clientSpan) {
			defer wg.Done()
			_, err := kc.ModelInfer(metadata.NewOutgoingContext(ctx(t), c.withTrace(t)), &kpb.ModelInferRequest{ModelName: "dummy_dynamic",
				Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 3}}},
				RawInputContents: [][]byte{f32bytes(seq(3, 1)...)}})
			if err != nil {
				t.Error(err)
			}
		}(clients[i])
	}
	wg.Wait()
	largest := int64(0)
	for _, c := range clients {
		all := rcv.WaitTrace(t, c.trace, 4, 10*time.Second)
		checkTree(t, all, c, "inference.GRPCInferenceService/ModelInfer", "dummy_dynamic", 1)
		q, p := tracingtest.ByName(all, "queue"), tracingtest.ByName(all, "plugin")
		rows, _ := p.Attrs[tracing.AttrBatchRows].(int64)
		if q.Attrs[tracing.AttrBatched] != true || rows < 1 || rows > 4 {
			t.Errorf("batched request: queue %v plugin %v", q.Attrs, p.Attrs)
		}
		largest = max(largest, rows)
	}
	t.Logf("largest batch: %d rows", largest)
}

// TestTracingOff: without OTEL variables ovms sends nothing (a receiver on
// the OTLP default ports, where an exporter would go, gets no request) and
// serves as before; OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true
// turn tracing off even with an endpoint set.
func TestTracingOff(t *testing.T) {
	body := `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`
	serve := func(t *testing.T, env []string) {
		t.Helper()
		s := startEnv(t, env, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
		c := newClientSpan(t)
		for range 3 {
			if code, out := postTraced(t, s.url("/v2/models/dummy/infer"), body, c); code != 200 {
				t.Fatalf("KServe REST: %d %s", code, out)
			}
		}
		kc := kpb.NewGRPCInferenceServiceClient(s.conn)
		if _, err := kc.ModelInfer(metadata.NewOutgoingContext(ctx(t), c.withTrace(t)), &kpb.ModelInferRequest{ModelName: "dummy",
			Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
			RawInputContents: [][]byte{f32bytes(seq(10, 1)...)}}); err != nil {
			t.Fatal(err)
		}
		s.stop() // would flush any span
		if strings.Contains(s.log(), "tracing on") {
			t.Errorf("tracing on:\n%s", s.log())
		}
	}
	t.Run("no variables", func(t *testing.T) {
		// The exporters' defaults are localhost:4318 (http/protobuf) and
		// localhost:4317 (grpc): listen there when the ports are free.
		var hits sync.Map
		for _, port := range []int{4317, 4318} {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Logf("port %d busy, not watched: %v", port, err)
				continue
			}
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					hits.Store(port, true)
					conn.Close()
				}
			}()
			t.Cleanup(func() { ln.Close() })
		}
		serve(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_BSP_SCHEDULE_DELAY=50"})
		hits.Range(func(k, _ any) bool {
			t.Errorf("a connection to the OTLP default port %v", k)
			return true
		})
	})
	for _, off := range []string{"OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true"} {
		t.Run(off, func(t *testing.T) {
			rcv := tracingtest.Start(t)
			serve(t, append(tracingEnv(rcv, "http/protobuf"), off))
			if n := rcv.Exports(); n != 0 {
				t.Errorf("%d exports with %s: %+v", n, off, rcv.Spans())
			}
		})
	}
	t.Run("on, same environment otherwise", func(t *testing.T) {
		// The control: the same steps with tracing on do export.
		rcv := tracingtest.Start(t)
		serve2 := startEnv(t, tracingEnv(rcv, "http/protobuf"), "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
		if code, out := post(t, serve2.url("/v2/models/dummy/infer"), body); code != 200 {
			t.Fatalf("%d %s", code, out)
		}
		serve2.stop()
		if rcv.Exports() == 0 {
			t.Error("nothing exported with tracing on")
		}
	})
}
