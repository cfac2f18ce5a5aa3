package modelmanager

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
)

// keyed is a plugin host under --plugin_isolation model: every model's
// process is one current instance, and Stop is recorded.
type keyed struct {
	mu      sync.Mutex
	cur     *pluginhost.Instance
	stopped []pluginhost.Key
}

func (k *keyed) Get(ctx context.Context, family string) (*pluginhost.Instance, error) {
	return k.GetKey(ctx, pluginhost.Key{Family: family})
}

func (k *keyed) GetKey(_ context.Context, _ pluginhost.Key) (*pluginhost.Instance, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur, nil
}

func (k *keyed) Stop(key pluginhost.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = append(k.stopped, key)
}

func (k *keyed) stops() []pluginhost.Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]pluginhost.Key(nil), k.stopped...)
}

// TestIsolatedProcessStopsAfterAFailedRecovery: a version whose reload
// into its restarted process failed, loaded again by a repository load and
// then unloaded, leaves its model's own process unused, so it stops.
func TestIsolatedProcessStopsAfterAFailedRecovery(t *testing.T) {
	key := pluginhost.Key{Family: "cpu", Model: "m"}
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	var fail atomic.Bool
	mock.LoadF = func(context.Context, *device.LoadRequest) (*device.ModelInfo, error) {
		if fail.Load() {
			return nil, errors.New("cannot load")
		}
		return meta, nil
	}
	first := devicetest.Serve(t, mock, arena)
	first.Key = key
	devs := &keyed{cur: first}
	m := New(devs, quiet())
	m.SetPluginIsolation(pluginhost.IsolationModel)
	ctx := context.Background()
	if err := m.Apply(ctx, []config.Model{model("m", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy)}); err != nil {
		t.Fatal(err)
	}
	// The process ends; its restart cannot load the version.
	m.PluginExited(first)
	second := devicetest.Serve(t, mock, arena)
	second.Key = key
	devs.mu.Lock()
	devs.cur = second
	devs.mu.Unlock()
	fail.Store(true)
	m.Recover("cpu", second)
	mod, _ := m.Model("m")
	if s := states(mod); s != "LOADING/UNKNOWN" {
		t.Fatalf("after the failed recovery: %s", s)
	}
	fail.Store(false)
	if err := m.LoadModel(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if err := m.UnloadModel(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if got := devs.stops(); len(got) != 1 || got[0] != key {
		t.Fatalf("processes stopped: %v, want [%v] (uses left: %v)", got, key, m.uses)
	}
}
