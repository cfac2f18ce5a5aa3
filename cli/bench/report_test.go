package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	return &Report{Model: "dummy", Protocol: KServeGRPC, URL: "localhost:9000", Mode: "concurrency",
		RequestBytes: 64, Window: time.Second, Stability: 10,
		Levels: []Level{
			{Concurrency: 1, Throughput: 4000.25, P50: 210 * time.Microsecond, P90: 300 * time.Microsecond,
				P99: 1500 * time.Microsecond, Max: 2 * time.Second, Mean: 250 * time.Microsecond, Count: 12000, Stable: true, Windows: 3},
			{Concurrency: 2, Throughput: 6000, P50: 300 * time.Microsecond, Count: 18000, Errors: 2,
				FirstError: "rpc error: boom", Windows: 10},
		}}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().Write(&b, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"model dummy (default version) over kserve-grpc at localhost:9000; request 64 B",
		"concurrency  infer/s",
		"4000.2  210.0us  300.0us  1.50ms  2.00s  250.0us  12000       0       yes",
		"UNSTABLE",
		"concurrency 2: 2 errors, first: rpc error: boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().Write(&b, FormatCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows %v %v", rows, err)
	}
	want := []string{"1", "0", "4000.25", "210.0", "300.0", "1500.0", "2000000.0", "250.0", "12000", "0", "true", "3", ""}
	if strings.Join(rows[1], "|") != strings.Join(want, "|") || rows[2][12] != "rpc error: boom" {
		t.Errorf("rows %q", rows)
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().Write(&b, FormatJSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"p50_ns": 210000`) {
		t.Errorf("json lacks p50_ns:\n%s", b.String())
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Levels[0] != sampleReport().Levels[0] || back.Model != "dummy" {
		t.Errorf("round trip %+v", back)
	}
	if err := sampleReport().Write(&b, "xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestRateModeTable(t *testing.T) {
	r := &Report{Mode: "request_rate", Schedule: Poisson, Levels: []Level{{Concurrency: 64, RequestRate: 500, Throughput: 499, Count: 10, Stable: true}}}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "open loop, poisson schedule") || !strings.Contains(b.String(), "rate/s  senders") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestFormatHelpers(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtDuration(1500 * time.Nanosecond), "1.5us"},
		{fmtDuration(12345 * time.Microsecond), "12.35ms"},
		{fmtDuration(3 * time.Second), "3.00s"},
		{fmtBytes(40), "40 B"},
		{fmtBytes(12 << 20), "12.0 MiB"},
		{fmtBytes(1536), "1.5 KiB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
