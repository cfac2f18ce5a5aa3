package modelmanager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/plugins/device"
)

// countingFake is newFake (without slow versions) counting the loads the
// plugin is asked for.
func countingFake(t *testing.T) (devicetest.Devices, *atomic.Int64) {
	t.Helper()
	var loads atomic.Int64
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		loads.Add(1)
		if _, err := os.Stat(filepath.Join(req.Path, "bad")); err == nil {
			return nil, status.Error(codes.FailedPrecondition, "broken model file")
		}
		return meta, nil
	}
	return devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}, &loads
}

// TestReconcileUnchangedModels: a Reconcile of an unchanged configuration
// of many models (listed one after the other by refreshIdle) loads
// nothing, tries no failed version again and reports no change; a version
// folder added to one model and removed from another is picked up as
// before; a model whose versions are failing keeps its older version
// serving, marked once.
func TestReconcileUnchangedModels(t *testing.T) {
	devs, loads := countingFake(t)
	m := New(devs, quiet())
	all := config.VersionPolicy{Kind: config.PolicyAll}
	latest := config.VersionPolicy{Kind: config.PolicyLatest, NumVersions: 1}
	var models []config.Model
	bases := map[string]string{}
	for i := range 40 {
		name := fmt.Sprintf("m%02d", i)
		bases[name] = repo(t, []string{"1", "2"})
		models = append(models, model(name, bases[name], all))
	}
	bases["broken"] = repo(t, []string{"1", "2"}, "2:bad")
	models = append(models, model("broken", bases["broken"], all))
	bases["kept"] = repo(t, []string{"1"})
	models = append(models, model("kept", bases["kept"], latest))
	if err := m.Apply(context.Background(), models); err == nil {
		t.Fatal("Apply: broken's version 2 loaded")
	}
	// kept's version 2 appears and fails: version 1 serves on.
	if err := os.MkdirAll(filepath.Join(bases["kept"], "2"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bases["kept"], "2", "bad"), nil, 0o644)
	if _, err := m.Reconcile(context.Background(), models); err == nil {
		t.Fatal("Reconcile: kept's version 2 loaded")
	}
	kept, _ := m.Model("kept")
	if got := states(kept); got != "AVAILABLE/OK LOADING/UNKNOWN" {
		t.Fatalf("kept: %s", got)
	}
	if v := kept.Version(1); v == nil || !v.kept.Load() {
		t.Fatal("kept's version 1 is not marked kept")
	}

	before := loads.Load()
	for range 3 {
		changed, err := m.Reconcile(context.Background(), models)
		if changed || err != nil {
			t.Fatalf("unchanged Reconcile: changed %v, err %v", changed, err)
		}
	}
	if n := loads.Load() - before; n != 0 {
		t.Errorf("unchanged Reconciles asked the plugin for %d loads", n)
	}
	for _, name := range []string{"m00", "broken", "kept"} {
		mod, _ := m.Model(name)
		if !m.refreshIdle(context.Background(), mod) {
			t.Errorf("%s: refreshIdle false for a model with nothing to do", name)
		}
	}

	addVersion := filepath.Join(bases["m07"], "3")
	if err := os.MkdirAll(addVersion, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(bases["m09"], "1")); err != nil {
		t.Fatal(err)
	}
	m07, _ := m.Model("m07")
	if m.refreshIdle(context.Background(), m07) {
		t.Error("refreshIdle true for a model with a new version folder")
	}
	m07.mu.Lock()
	if m.refreshIdle(context.Background(), m07) {
		t.Error("refreshIdle true for a model whose lock is held")
	}
	m07.mu.Unlock()
	changed, err := m.Reconcile(context.Background(), models)
	if !changed || err != nil {
		t.Fatalf("Reconcile after folder changes: changed %v, err %v", changed, err)
	}
	if n := loads.Load() - before; n != 1 {
		t.Errorf("the new folder took %d loads, want 1", n)
	}
	if got := states(m07); got != "AVAILABLE/OK AVAILABLE/OK AVAILABLE/OK" {
		t.Errorf("m07 after its version 3 appeared: %s", got)
	}
	m09, _ := m.Model("m09")
	if got := states(m09); got != "END/OK AVAILABLE/OK" {
		t.Errorf("m09 after its version 1 went: %s", got)
	}
}
