package modelmanager

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/plugins/device"
)

// within runs f and fails the test when it takes longer than d (f keeps
// running; the test ends).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// TestIndependentModelsAndVersionsLoadInParallel loads three models, one
// of them with two versions: every load waits until all four are in the
// plugin at once, so loads made one after another fail.
func TestIndependentModelsAndVersionsLoadInParallel(t *testing.T) {
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	var inflight, peak atomic.Int64
	var mu sync.Mutex
	all4 := make(chan struct{})
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		mu.Lock()
		if n > peak.Load() {
			peak.Store(n)
		}
		if n == 4 {
			close(all4)
		}
		mu.Unlock()
		select {
		case <-all4:
			return meta, nil
		case <-time.After(3 * time.Second):
			return nil, errors.New("loads ran one after another")
		}
	}
	m := New(devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}, quiet())
	m.SetLoadParallelism(4)
	err := m.Apply(context.Background(), []config.Model{
		model("a", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy),
		model("b", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy),
		model("c", repo(t, []string{"1", "2"}), config.VersionPolicy{Kind: config.PolicyAll}),
	})
	if err != nil || peak.Load() != 4 {
		t.Fatalf("Apply: %v; at most %d loads at once, want 4", err, peak.Load())
	}
}

// TestLoadParallelismIsBounded loads ten models with a load parallelism
// of two: the plugin gets LoadsInFlight(2) = 4 loads at once (it compiles
// two of them at once, see devices/ortdevice), never more.
func TestLoadParallelismIsBounded(t *testing.T) {
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	var inflight, peak atomic.Int64
	var mu sync.Mutex
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		mu.Lock()
		if n := inflight.Add(1); n > peak.Load() {
			peak.Store(n)
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		inflight.Add(-1)
		return meta, nil
	}
	m := New(devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}, quiet())
	m.SetLoadParallelism(2)
	var cfgs []config.Model
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		cfgs = append(cfgs, model(n, repo(t, []string{"1"}), config.DefaultModel().VersionPolicy))
	}
	if err := m.Apply(context.Background(), cfgs); err != nil {
		t.Fatal(err)
	}
	if want := int64(LoadsInFlight(2)); want != 4 || peak.Load() != want {
		t.Fatalf("at most %d loads at once in the plugin, want LoadsInFlight(2) = %d (4)", peak.Load(), want)
	}
}

// TestLargestVersionsLoadFirst: when more versions wait than the plugin
// gets at once, each freed load slot goes to the largest waiting version
// (by the size of its folder's files), so that the longest compiles start
// first. The mock holds every load until the test lets one end, so each
// start follows exactly one freed slot.
func TestLargestVersionsLoadFirst(t *testing.T) {
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	started, proceed := make(chan string, 16), make(chan struct{})
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		started <- req.Path
		<-proceed
		return meta, nil
	}
	m := New(devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}, quiet())
	m.SetLoadParallelism(1)   // LoadsInFlight(1) = 2 in the plugin
	m.loadSlots.SetMaxWait(0) // the sizes alone, however slow the machine
	sizes := []int{3, 40, 1, 25, 0, 9, 17, 5}
	var cfgs []config.Model
	size := map[string]int{}
	for i, kib := range sizes {
		base := repo(t, []string{"1"})
		if err := os.WriteFile(filepath.Join(base, "1", "model.onnx"), make([]byte, kib<<10), 0o644); err != nil {
			t.Fatal(err)
		}
		size[filepath.Join(base, "1")] = kib
		cfgs = append(cfgs, model(string(rune('a'+i)), base, config.DefaultModel().VersionPolicy))
	}
	done := make(chan error, 1)
	go func() { done <- m.Apply(context.Background(), cfgs) }()
	first := map[string]bool{<-started: true, <-started: true} // whichever came first
	deadline := time.Now().Add(5 * time.Second)
	for m.loadSlots.Waiting() != len(sizes)-2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d versions waiting for a load slot, want %d", m.loadSlots.Waiting(), len(sizes)-2)
		}
		time.Sleep(time.Millisecond)
	}
	var want []int
	for p, kib := range size {
		if !first[p] {
			want = append(want, kib)
		}
	}
	slices.Sort(want)
	slices.Reverse(want)
	var got []int
	for range want {
		proceed <- struct{}{} // one load ends, its slot is handed on
		got = append(got, size[<-started])
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("versions started in the order of sizes %v KiB, want largest first %v", got, want)
	}
}

// TestVersionWeight: a local version weighs its files; one in cloud
// storage, not downloaded yet, more than any local one.
func TestVersionWeight(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), make([]byte, 300), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := versionWeight(dir); got != 300 {
		t.Errorf("local version: weight %d, want 300", got)
	}
	for _, remote := range []string{"s3://bucket/model/1", "gs://bucket/model/1", "az://container/model/1"} {
		if got := versionWeight(remote); got != math.MaxInt64 {
			t.Errorf("%s: weight %d, want math.MaxInt64", remote, got)
		}
	}
}

// TestLoadTimeoutLeavesOthersFree hangs one model's load in the plugin
// (ignoring cancellation, as a stuck cgo call does): while it hangs, other
// models load, unload and report readiness; after the load timeout the
// version is a failed load (LOADING/UNKNOWN) and polls do not retry it.
func TestLoadTimeoutLeavesOthersFree(t *testing.T) {
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	unblock := make(chan struct{})
	var hangs atomic.Int64
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		if _, err := os.Stat(filepath.Join(req.Path, "hang")); err == nil {
			hangs.Add(1)
			<-unblock
		}
		return meta, nil
	}
	devs := devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}
	t.Cleanup(func() { close(unblock) }) // before the plugin stops
	m := New(devs, quiet())
	m.SetLoadTimeout(2 * time.Second)
	ok := model("ok", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy)
	stuck := model("stuck", repo(t, []string{"1"}, "1:hang"), config.DefaultModel().VersionPolicy)
	if err := m.Apply(context.Background(), []config.Model{ok}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := m.Reconcile(context.Background(), []config.Model{ok, stuck}); done <- err }()
	for hangs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	within(t, time.Second, "UnloadModel of another model during a hung load", func() {
		if err := m.UnloadModel(context.Background(), "ok"); err != nil {
			t.Error(err)
		}
	})
	within(t, time.Second, "LoadModel of another model during a hung load", func() {
		if err := m.LoadModel(context.Background(), "ok"); err != nil {
			t.Error(err)
		}
	})
	if !m.Ready() {
		t.Error("not ready during a hung load")
	}
	var err error
	within(t, 10*time.Second, "Reconcile with a hung load", func() { err = <-done })
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the hung load ended after %v, before its timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "timed out after 2s") || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Reconcile: %v", err)
	}
	mod, _ := m.Model("stuck")
	if got := states(mod); got != "LOADING/UNKNOWN" {
		t.Fatalf("stuck: %s", got)
	}
	within(t, time.Second, "a poll after the timed-out load", func() {
		if _, err := m.Reconcile(context.Background(), []config.Model{ok, stuck}); err != nil {
			t.Error(err)
		}
	})
	if hangs.Load() != 1 {
		t.Errorf("the failed load was tried %d times by polls", hangs.Load())
	}
	okMod, _ := m.Model("ok")
	if got := states(okMod); got != "AVAILABLE/OK" {
		t.Fatalf("ok: %s", got)
	}
}

// TestExplicitUnloadOutlastsPolls: a repository unload stays in force on
// polls (also when a version folder is added) until a repository load or a
// change of the model's configuration.
func TestExplicitUnloadOutlastsPolls(t *testing.T) {
	devs := newFake(t, nil)
	m := New(devs, quiet())
	base := repo(t, []string{"1"})
	cfg := model("m", base, config.DefaultModel().VersionPolicy)
	if err := m.Apply(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	if err := m.UnloadModel(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	mod, _ := m.Model("m")
	for i := range 3 {
		if i == 1 {
			if err := os.MkdirAll(filepath.Join(base, "2"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if changed, err := m.Reconcile(context.Background(), []config.Model{cfg}); err != nil || changed {
			t.Fatalf("poll %d: changed %v, %v", i, changed, err)
		}
		if got := states(mod); got != "END/OK" {
			t.Fatalf("poll %d after unload: %s", i, got)
		}
	}
	if err := m.LoadModel(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	if got := states(mod); got != "END/OK AVAILABLE/OK" {
		t.Fatalf("after load: %s", got)
	}
	if err := m.UnloadModel(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reconcile(context.Background(), []config.Model{cfg}); err != nil || states(mod) != "END/OK END/OK" {
		t.Fatalf("poll after the second unload: %s %v", states(mod), err)
	}
	cfg.Nireq = 2 // the model's configuration changes: it serves again
	if changed, err := m.Reconcile(context.Background(), []config.Model{cfg}); err != nil || !changed {
		t.Fatalf("config change: changed %v, %v", changed, err)
	}
	mod, _ = m.Model("m")
	if got := states(mod); got != "AVAILABLE/OK" {
		t.Fatalf("after a config change: %s", got)
	}
}
