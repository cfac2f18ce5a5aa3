package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    []float64
		wantErr string
	}{
		{"4", []float64{4}, ""},
		{"1:4", []float64{1, 2, 3, 4}, ""},
		{"1:16:2", []float64{1, 3, 5, 7, 9, 11, 13, 15}, ""},
		{"2:16:2", []float64{2, 4, 6, 8, 10, 12, 14, 16}, ""},
		{"100:300:100", []float64{100, 200, 300}, ""},
		{"0.5:1.5:0.5", []float64{0.5, 1, 1.5}, ""},
		{"1,2,4,8", []float64{1, 2, 4, 8}, ""},
		{"", nil, "empty"},
		{"4:1", nil, "end below start"},
		{"1:2:3:4", nil, "start:end"},
		{"0", nil, "positive"},
		{"1:x", nil, "positive"},
		{"1,-2", nil, "positive"},
		{"1:100000:1", nil, "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseRange = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseConcurrency(t *testing.T) {
	if got, err := ParseConcurrency("1:16:2"); err != nil || !slices.Equal(got, []int{1, 3, 5, 7, 9, 11, 13, 15}) {
		t.Errorf("ParseConcurrency(1:16:2) = %v, %v", got, err)
	}
	if _, err := ParseConcurrency("1.5"); err == nil {
		t.Error("ParseConcurrency(1.5) accepted a fraction")
	}
}

func TestParseShape(t *testing.T) {
	tests := []struct {
		in       string
		wantName string
		want     []int64
		wantErr  bool
	}{
		{"input:1,3,224,224", "input", []int64{1, 3, 224, 224}, false},
		{"copy:0:2,5", "copy:0", []int64{2, 5}, false},
		{"x:0", "x", []int64{0}, false},
		{"x", "", nil, true},
		{":1,2", "", nil, true},
		{"x:", "", nil, true},
		{"x:1,-1", "", nil, true},
		{"x:1,a", "", nil, true},
	}
	for _, tt := range tests {
		name, dims, err := ParseShape(tt.in)
		if (err != nil) != tt.wantErr || name != tt.wantName || !slices.Equal(dims, tt.want) {
			t.Errorf("ParseShape(%q) = %q, %v, %v", tt.in, name, dims, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Model: "m", Protocol: KServeREST, URL: "127.0.0.1:8000/"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://127.0.0.1:8000" || c.Warmup != DefaultWarmup || c.Window != DefaultWindow ||
		c.Stability != 10 || c.MaxTrials != 10 || !slices.Equal(c.Concurrency, []int{1}) || c.Schedule != Poisson ||
		c.InputData != "random" || c.SharedMemory != SharedMemoryNone {
		t.Errorf("defaults: %+v", c)
	}
	if c, _ := (Config{Model: "m"}).withDefaults(); c.URL != "localhost:9000" || c.Protocol != KServeGRPC {
		t.Errorf("gRPC defaults: %+v", c)
	}
	if c, _ := (Config{Model: "m", MaxTrials: 1, Warmup: -1}).withDefaults(); c.MaxTrials != 3 || c.Warmup != -1 {
		t.Errorf("max trials %d (want at least 3), warmup %v", c.MaxTrials, c.Warmup)
	}
	bad := []struct {
		c    Config
		want string
	}{
		{Config{}, "no model"},
		{Config{Model: "m", Protocol: "soap"}, "unknown protocol"},
		{Config{Model: "m", Concurrency: []int{0}}, "concurrency 0"},
		{Config{Model: "m", RequestRates: []float64{-1}}, "request rate"},
		{Config{Model: "m", Schedule: "bursty"}, "unknown schedule"},
		{Config{Model: "m", SharedMemory: "cuda"}, "unknown shared memory"},
		{Config{Model: "m", Protocol: TFSGRPC, SharedMemory: SharedMemorySystem}, "needs a KServe protocol"},
		{Config{Model: "m", Window: -time.Second}, "must be positive"},
	}
	for _, b := range bad {
		if _, err := b.c.withDefaults(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: error %v, want %q", b.c, err, b.want)
		}
	}
}
