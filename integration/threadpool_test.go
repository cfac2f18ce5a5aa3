package integration

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// manyModelsServer serves n copies of dummy (one base path, n names) with
// the given plugin_config ("" for none) from one CPU plugin, and checks
// that every one is AVAILABLE.
func manyModelsServer(t *testing.T, n int, pluginConfig string) *server {
	t.Helper()
	dir := t.TempDir()
	var list []string
	for i := range n {
		pc := ""
		if pluginConfig != "" {
			pc = `, "plugin_config": ` + pluginConfig
		}
		list = append(list, fmt.Sprintf(`{"config": {"name": "m%02d", "base_path": %q%s}}`, i, filepath.Join(modelsDir, "dummy"), pc))
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [`+strings.Join(list, ",")+`]}`)
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "0")
	states := versionStates(t, s)
	for i := range n {
		if st := states[fmt.Sprintf("m%02d", i)]; st != "1:AVAILABLE" {
			t.Fatalf("model m%02d: %q, want 1:AVAILABLE", i, st)
		}
	}
	return s
}

// TestSharedThreadPoolManyModels: 50 models without thread settings share
// the CPU plugin's one intra-op pool, so the plugin's thread count stays
// under a bound that does not depend on the model count (the same 50
// models each with a pool of their own, as INTRA_OP_THREADS gives them,
// exceed it), every model says in the log which pool it runs on, and
// requests to many models at once are answered correctly.
func TestSharedThreadPoolManyModels(t *testing.T) {
	cpus := runtime.NumCPU()
	if cpus < 2 {
		t.Skip("one CPU: a pool of one thread has no thread of its own to count")
	}
	const n = 50
	// The Go runtime's threads (gRPC, the channel's pollers, threads left
	// by cgo calls during the parallel loads) plus one shared pool.
	bound := 32 + 2*cpus

	s := manyModelsServer(t, n, "")
	threads := procKB(t, pluginPid(t, s), "Threads")
	t.Logf("%d models on the shared pool: the plugin has %d threads (bound %d)", n, threads, bound)
	if threads > int64(bound) {
		t.Errorf("%d models on the shared pool: the plugin has %d threads, want at most %d", n, threads, bound)
	}
	if got := strings.Count(s.log(), "thread_pool=shared "); got != n {
		t.Errorf("%d model compiled lines say thread_pool shared, want %d", got, n)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			client := kpb.NewGRPCInferenceServiceClient(s.conn)
			for i := range 25 {
				model := fmt.Sprintf("m%02d", (g*7+i)%n)
				in := seq(10, float32(g*100+i))
				resp, err := client.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: model,
					Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(in...)}})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", model, err)
					return
				}
				got := f32s(resp.RawOutputContents[0])
				for j := range in {
					if got[j] != in[j]+1 {
						errs <- fmt.Errorf("%s: output %v for input %v, want each plus 1", model, got, in)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if after := procKB(t, pluginPid(t, s), "Threads"); after > int64(bound) {
		t.Errorf("after requests to %d models at once the plugin has %d threads, want at most %d", n, after, bound)
	}
	s.stop()

	// Control: with a thread count each, the same models get pools of their
	// own, and the count above would have caught them.
	own := manyModelsServer(t, n, fmt.Sprintf(`{"INTRA_OP_THREADS": "%d"}`, cpus))
	ownThreads := procKB(t, pluginPid(t, own), "Threads")
	t.Logf("%d models with pools of their own: the plugin has %d threads", n, ownThreads)
	if ownThreads <= int64(bound) {
		t.Errorf("%d models with INTRA_OP_THREADS %d: the plugin has %d threads, want more than %d (the bound above cannot tell them apart)",
			n, cpus, ownThreads, bound)
	}
	if got := strings.Count(own.log(), `own_pool_reason="plugin_config INTRA_OP_THREADS"`); got != n {
		t.Errorf("%d model compiled lines give plugin_config INTRA_OP_THREADS as the reason for an own pool, want %d", got, n)
	}
}
