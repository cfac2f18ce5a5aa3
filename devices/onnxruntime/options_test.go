package onnxruntime

import (
	"reflect"
	"strings"
	"testing"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func TestParseSessionOptions(t *testing.T) {
	tests := []struct {
		name    string
		config  map[string]string
		want    SessionOptions
		wantErr []string // substrings of the error; nil for success
	}{
		{"empty", nil, SessionOptions{}, nil},
		{"intra-op threads", map[string]string{"INTRA_OP_THREADS": "4"}, SessionOptions{IntraOpThreads: 4}, nil},
		{"OpenVINO thread key", map[string]string{"INFERENCE_NUM_THREADS": "2"}, SessionOptions{IntraOpThreads: 2}, nil},
		{"legacy thread key", map[string]string{"CPU_THREADS_NUM": " 3 "}, SessionOptions{IntraOpThreads: 3}, nil},
		{"zero threads is the default", map[string]string{"CPU_THREADS_NUM": "0"}, SessionOptions{}, nil},
		{"agreeing thread keys", map[string]string{"CPU_THREADS_NUM": "2", "INFERENCE_NUM_THREADS": "2"}, SessionOptions{IntraOpThreads: 2}, nil},
		{"inter-op threads", map[string]string{"INTER_OP_THREADS": "2"}, SessionOptions{InterOpThreads: 2}, nil},
		{"streams", map[string]string{"NUM_STREAMS": "4"}, SessionOptions{Streams: 4}, nil},
		{"legacy streams auto", map[string]string{"CPU_THROUGHPUT_STREAMS": "CPU_THROUGHPUT_AUTO"}, SessionOptions{Streams: StreamsAuto}, nil},
		{"streams AUTO", map[string]string{"NUM_STREAMS": "AUTO"}, SessionOptions{Streams: StreamsAuto}, nil},
		{"hint", map[string]string{"PERFORMANCE_HINT": "THROUGHPUT"}, SessionOptions{PerformanceHint: "THROUGHPUT"}, nil},
		{"parallel", map[string]string{"EXECUTION_MODE": "PARALLEL"}, SessionOptions{Parallel: true}, nil},
		{"optimization", map[string]string{"GRAPH_OPTIMIZATION_LEVEL": "ENABLE_BASIC"}, SessionOptions{GraphOptimization: OptimizeBasic}, nil},
		{"ORT config entry", map[string]string{"session.intra_op.allow_spinning": "0"},
			SessionOptions{ConfigEntries: map[string]string{"session.intra_op.allow_spinning": "0"}}, nil},
		{"all", map[string]string{"CPU_THREADS_NUM": "8", "INTER_OP_THREADS": "1", "NUM_STREAMS": "2", "PERFORMANCE_HINT": "LATENCY"},
			SessionOptions{IntraOpThreads: 8, InterOpThreads: 1, Streams: 2, PerformanceHint: "LATENCY"}, nil},

		{"unknown key", map[string]string{"CPU_BIND_THREAD": "YES"}, SessionOptions{},
			[]string{`"CPU_BIND_THREAD"`, "CPU_THREADS_NUM", "NUM_STREAMS", "PERFORMANCE_HINT", "INTRA_OP_THREADS", "ENABLE_CPU_PINNING", "session."}},
		{"pinning", map[string]string{"ENABLE_CPU_PINNING": "true"}, SessionOptions{CPUPinning: true}, nil},
		{"bad pinning", map[string]string{"ENABLE_CPU_PINNING": "maybe"}, SessionOptions{}, []string{`ENABLE_CPU_PINNING="maybe": want true or false`}},
		{"lower-case key", map[string]string{"num_streams": "1"}, SessionOptions{}, []string{`"num_streams"`, "accepted"}},
		{"bad threads", map[string]string{"INTRA_OP_THREADS": "many"}, SessionOptions{}, []string{"INTRA_OP_THREADS", `"many"`}},
		{"negative threads", map[string]string{"INTER_OP_THREADS": "-1"}, SessionOptions{}, []string{"INTER_OP_THREADS", `"-1"`}},
		{"zero streams", map[string]string{"NUM_STREAMS": "0"}, SessionOptions{}, []string{"NUM_STREAMS", `"0"`}},
		{"bad hint", map[string]string{"PERFORMANCE_HINT": "FAST"}, SessionOptions{}, []string{"PERFORMANCE_HINT", `"FAST"`, "LATENCY or THROUGHPUT"}},
		{"bad mode", map[string]string{"EXECUTION_MODE": "async"}, SessionOptions{}, []string{"EXECUTION_MODE", `"async"`}},
		{"bad level", map[string]string{"GRAPH_OPTIMIZATION_LEVEL": "99"}, SessionOptions{}, []string{"GRAPH_OPTIMIZATION_LEVEL", `"99"`}},
		{"conflicting threads", map[string]string{"CPU_THREADS_NUM": "2", "INTRA_OP_THREADS": "4"}, SessionOptions{},
			[]string{"conflicts", "CPU_THREADS_NUM", "INTRA_OP_THREADS"}},
		{"conflicting streams", map[string]string{"CPU_THROUGHPUT_STREAMS": "2", "NUM_STREAMS": "AUTO"}, SessionOptions{},
			[]string{"conflicts", "CPU_THROUGHPUT_STREAMS", "NUM_STREAMS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSessionOptions(tt.config)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseSessionOptions(%v) = %+v, want an error", tt.config, got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSessionOptions(%v): %v", tt.config, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSessionOptions(%v) = %+v, want %+v", tt.config, got, tt.want)
			}
		})
	}
}

// TestSessionOptionsApplied creates sessions with every option set, and
// checks that bad options fail NewSession.
func TestSessionOptionsApplied(t *testing.T) {
	initLib(t)
	model := identityModel(t, Float32, 2)
	good := SessionOptions{IntraOpThreads: 2, InterOpThreads: 1, Parallel: true, GraphOptimization: OptimizeExtended,
		ConfigEntries: map[string]string{"session.intra_op.allow_spinning": "0"}}
	s, err := NewSession(model, good)
	if err != nil {
		t.Fatalf("NewSession(%+v): %v", good, err)
	}
	s.Close()
	for _, bad := range []SessionOptions{
		{IntraOpThreads: -1},
		{GraphOptimization: 42},
		{ConfigEntries: map[string]string{"session.use_ort_model_bytes_directly": "1"}},
	} {
		if s, err := NewSession(model, bad); err == nil {
			s.Close()
			t.Errorf("NewSession(%+v) succeeded, want an error", bad)
		}
	}
}

func TestElementTypeNumbers(t *testing.T) {
	ours := map[string]ElementType{"UNDEFINED": Undefined, "FLOAT": Float32, "UINT8": Uint8, "INT8": Int8,
		"UINT16": Uint16, "INT16": Int16, "INT32": Int32, "INT64": Int64, "STRING": String, "BOOL": Bool,
		"FLOAT16": Float16, "DOUBLE": Float64, "UINT32": Uint32, "UINT64": Uint64, "COMPLEX64": Complex64,
		"COMPLEX128": Complex128, "BFLOAT16": BFloat16}
	for name, v := range onnxpb.TensorProto_DataType_value {
		if got, ok := ours[name]; !ok || int32(got) != v {
			t.Errorf("TensorProto.%s = %d, ElementType %d (defined: %v)", name, v, got, ok)
		}
	}
	for typ := Float32; typ <= BFloat16; typ++ {
		want := map[ElementType]int{Float32: 4, Uint8: 1, Int8: 1, Uint16: 2, Int16: 2, Int32: 4, Int64: 8, String: 0,
			Bool: 1, Float16: 2, Float64: 8, Uint32: 4, Uint64: 8, Complex64: 8, Complex128: 16, BFloat16: 2}[typ]
		if typ.Size() != want {
			t.Errorf("%s.Size() = %d, want %d", typ, typ.Size(), want)
		}
	}
	if Int4.ByteLen(5) != 3 || Float16.ByteLen(5) != 10 || String.ByteLen(5) != 0 {
		t.Errorf("ByteLen: int4 %d, float16 %d, string %d", Int4.ByteLen(5), Float16.ByteLen(5), String.ByteLen(5))
	}
	if Float32.String() != "float32" || BFloat16.String() != "bfloat16" || ElementType(99).String() != "elementtype(99)" {
		t.Errorf("String: %s %s %s", Float32, BFloat16, ElementType(99))
	}
}
