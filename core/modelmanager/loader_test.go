package modelmanager

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// fakeLoaders is a Loaders whose retired set and load failures the test
// sets; it records the calls.
type fakeLoaders struct {
	mu       sync.Mutex
	retired  []int64
	failLoad map[int64]error
	loads    []int64
	unloads  []int64
	lastReq  loaderhost.Request
}

func (f *fakeLoaders) Load(_ context.Context, l *config.CustomLoader, req loaderhost.Request) ([]device.ModelFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads = append(f.loads, req.Version)
	f.lastReq = req
	if err := f.failLoad[req.Version]; err != nil {
		return nil, err
	}
	return []device.ModelFile{{Name: "model.onnx", Data: []byte(l.Name)}}, nil
}

func (f *fakeLoaders) Retired(_ context.Context, _ *config.CustomLoader, _ loaderhost.Request, versions []int64) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	for _, v := range versions {
		if slices.Contains(f.retired, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fakeLoaders) Unload(_ context.Context, _ *config.CustomLoader, _ string, version int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unloads = append(f.unloads, version)
}

// TestCustomLoaderFilesRetireAndErrors: a model with a custom loader loads
// each version with the loader's files (the device gets them in
// ModelFiles), a retired version is not loaded and an AVAILABLE one that
// becomes retired is unloaded (END/OK) and told to the loader, and comes
// back when no longer retired; a loader error fails only its version.
func TestCustomLoaderFilesRetireAndErrors(t *testing.T) {
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	var gotFiles [][]device.ModelFile
	var mu sync.Mutex
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		mu.Lock()
		gotFiles = append(gotFiles, req.ModelFiles)
		mu.Unlock()
		return meta, nil
	}
	devs := devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}
	fl := &fakeLoaders{retired: []int64{2}, failLoad: map[int64]error{3: errors.New("model m version 3: no licence")}}
	m := New(devs, quiet())
	m.SetLoaders(fl)
	cfg := model("m", repo(t, []string{"1", "2", "3"}), config.VersionPolicy{Kind: config.PolicyAll})
	cfg.CustomLoader = &config.CustomLoader{Name: "fake", Options: `{"loader_name":"fake"}`}
	err := m.Apply(context.Background(), []config.Model{cfg})
	if err == nil || !errors.Is(err, ErrLoadFailed) || !strings.Contains(err.Error(), "no licence") {
		t.Fatalf("apply: %v", err)
	}
	mod, _ := m.Model("m")
	if got := states(mod); got != "AVAILABLE/OK LOADING/UNKNOWN" {
		t.Fatalf("states %s (version 2 retired: not loaded)", got)
	}
	mu.Lock()
	if len(gotFiles) != 1 || len(gotFiles[0]) != 1 || string(gotFiles[0][0].Data) != "fake" {
		t.Errorf("the device got %v", gotFiles)
	}
	mu.Unlock()
	if fl.lastReq.Name != "m" || fl.lastReq.BasePath != cfg.BasePath || fl.lastReq.Path == "" {
		t.Errorf("loader request %+v", fl.lastReq)
	}
	fl.mu.Lock()
	fl.retired, fl.failLoad = []int64{1}, nil
	fl.mu.Unlock()
	if _, err := m.Reconcile(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	if got := states(mod); got != "END/OK AVAILABLE/OK LOADING/UNKNOWN" {
		t.Errorf("after retiring 1: %s", got)
	}
	if !slices.Contains(fl.unloads, 1) {
		t.Errorf("the loader was not told about the unload of version 1: %v", fl.unloads)
	}
	fl.mu.Lock()
	fl.retired = nil
	fl.mu.Unlock()
	if _, err := m.Reconcile(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	if got := states(mod); got != "AVAILABLE/OK AVAILABLE/OK LOADING/UNKNOWN" {
		t.Errorf("after un-retiring 1: %s", got)
	}
}
