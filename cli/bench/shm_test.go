package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// leftovers lists this process's shared-memory objects.
func leftovers(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(shmDir, fmt.Sprintf("ovms_bench_%d_*", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func needShm(t *testing.T) {
	t.Helper()
	if fi, err := os.Stat(shmDir); err != nil || !fi.IsDir() {
		t.Skipf("no %s", shmDir)
	}
}

// fakeConfig benchmarks the fake's model with known data and short windows.
func fakeConfig(t *testing.T, p Protocol, url string) Config {
	data := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(data, []byte(`{"b": [[1, 2, 3, 4], [5, 6, 7, 8]]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{Protocol: p, URL: url, Model: "addone", InputData: data, Shapes: map[string][]int64{"b": {2, 4}},
		Warmup: -1, Window: 50 * time.Millisecond, MaxTrials: 3, Stability: 1000}
}

func TestLayoutAligns(t *testing.T) {
	offs, total := layout([]int64{10, 0, 64, 1})
	if !slices.Equal(offs, []int64{0, 64, 64, 128}) || total != 192 {
		t.Errorf("layout = %v %d", offs, total)
	}
}

func TestRunAgainstFakeServer(t *testing.T) {
	needShm(t)
	f := newFakeServer()
	grpcAddr := f.startGRPC(t)
	web := httptest.NewServer(f)
	defer web.Close()
	want := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	tests := []struct {
		p   Protocol
		url string
		shm string
	}{
		{KServeGRPC, grpcAddr, SharedMemoryNone},
		{KServeGRPC, grpcAddr, SharedMemorySystem},
		{KServeREST, web.URL, SharedMemoryNone},
		{KServeREST, web.URL, SharedMemorySystem},
		{KServeRESTBinary, web.URL, SharedMemoryNone},
		{KServeRESTBinary, web.URL, SharedMemorySystem},
	}
	for _, tt := range tests {
		t.Run(string(tt.p)+"/"+tt.shm, func(t *testing.T) {
			f.waitQuiet() // the previous run's cancelled requests
			f.mu.Lock()
			f.events, f.shmInfers, f.dataInfers, f.lastInput = nil, 0, 0, nil
			f.mu.Unlock()
			cfg := fakeConfig(t, tt.p, tt.url)
			cfg.SharedMemory, cfg.Concurrency = tt.shm, []int{2}
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			l := rep.Levels[0]
			if l.Count == 0 || l.Errors != 0 || rep.Protocol != tt.p || rep.Inputs[0].Bytes != 32 {
				t.Fatalf("report %+v, level %+v", rep, l)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !slices.Equal(f.lastInput, want) {
				t.Errorf("the server read %v, want %v", f.lastInput, want)
			}
			if tt.shm == SharedMemoryNone {
				if f.shmInfers != 0 || len(f.events) != 0 {
					t.Errorf("shared memory used: %d infers, %v", f.shmInfers, f.events)
				}
				return
			}
			// One plain probe sizes the outputs; then everything goes through
			// the regions, which end unregistered and unlinked.
			if f.dataInfers != 1 || int64(f.shmInfers) < l.Count {
				t.Errorf("%d data infers, %d shared-memory infers for %d counted", f.dataInfers, f.shmInfers, l.Count)
			}
			wantEvents := []string{"register input", "register output", "unregister input", "unregister output"}
			if !slices.Equal(f.events, wantEvents) || len(f.regions) != 0 {
				t.Errorf("events %v, regions left %v", f.events, f.regions)
			}
			if l := leftovers(t); len(l) != 0 {
				t.Errorf("left in %s: %v", shmDir, l)
			}
		})
	}
}

func TestSharedMemoryUnsupportedServer(t *testing.T) {
	needShm(t)
	f := newFakeServer()
	f.noShm = true
	cfg := fakeConfig(t, KServeGRPC, f.startGRPC(t))
	cfg.SharedMemory = SharedMemorySystem
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "register shared memory region") || !strings.Contains(err.Error(), "Unimplemented") {
		t.Fatalf("error %v", err)
	}
	if l := leftovers(t); len(l) != 0 {
		t.Errorf("left in %s: %v", shmDir, l)
	}
}

// Cancelling (Ctrl-C in the command) still unregisters and unlinks.
func TestSharedMemoryCleanupOnCancel(t *testing.T) {
	needShm(t)
	f := newFakeServer()
	cfg := fakeConfig(t, KServeGRPC, f.startGRPC(t))
	cfg.SharedMemory, cfg.MaxTrials = SharedMemorySystem, 100
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(120*time.Millisecond, cancel)
	_, err := Run(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("error %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.regions) != 0 || len(f.events) != 4 {
		t.Errorf("events %v, regions left %v", f.events, f.regions)
	}
	if l := leftovers(t); len(l) != 0 {
		t.Errorf("left in %s: %v", shmDir, l)
	}
}

func TestRunProbeErrors(t *testing.T) {
	f := newFakeServer()
	addr := f.startGRPC(t)
	cfg := fakeConfig(t, KServeGRPC, addr)
	cfg.Model = "nope"
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "model nope not found") {
		t.Errorf("unknown model: %v", err)
	}
	cfg = fakeConfig(t, KServeGRPC, addr)
	cfg.Shapes = map[string][]int64{"b": {2, 5}}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "disagrees") {
		t.Errorf("bad shape: %v", err)
	}
}
