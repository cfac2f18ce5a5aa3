// Package modelmanager keeps the served models and their versions: it finds
// version directories, applies the version policy, loads versions into
// device plugins, tracks the OVMS version state machine
// (START, LOADING, AVAILABLE, UNLOADING, END), resolves requests to versions
// and runs inference through the plugin's shared-memory arena.
package modelmanager

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
)

// Devices gives access to device plugin instances.
type Devices interface {
	// Get returns the running plugin of a device family.
	Get(ctx context.Context, family string) (*pluginhost.Instance, error)
}

// Manager owns all served models.
type Manager struct {
	devices Devices
	log     *logrus.Entry

	applyMu sync.Mutex
	models  atomic.Pointer[map[string]*Model] // replaced, never mutated
	gens    map[string]uint64                 // model objects made per name (under applyMu)

	cacheDir     string        // where remote versions are downloaded
	nireqTimeout time.Duration // how long a request waits for a nireq slot
	ready        atomic.Bool

	isolation pluginhost.Isolation // see SetPluginIsolation
	useMu     sync.Mutex
	uses      map[pluginhost.Key]int // versions running on each plugin process (isolation.go)
}

// New returns an empty manager.
func New(devices Devices, log *logrus.Entry) *Manager {
	m := &Manager{devices: devices, log: log, gens: map[string]uint64{}}
	m.models.Store(&map[string]*Model{})
	return m
}

// Ready reports whether the initial configuration has been applied (OVMS
// stays ready even when some models failed to load).
func (m *Manager) Ready() bool { return m.ready.Load() }

// Model returns a model by name: MODEL_NAME_MISSING if unknown.
func (m *Manager) Model(name string) (*Model, error) {
	if mod, ok := (*m.models.Load())[name]; ok {
		return mod, nil
	}
	return nil, apierr.New(apierr.ModelNameMissing)
}

// Models lists the models sorted by name.
func (m *Manager) Models() []*Model {
	all := *m.models.Load()
	out := make([]*Model, 0, len(all))
	for _, mod := range all {
		out = append(out, mod)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ErrLoadFailed reports that at least one model version failed to load.
var ErrLoadFailed = errors.New("model loading failed")

// Apply serves the given models (see Reconcile) and reports the failures.
func (m *Manager) Apply(ctx context.Context, models []config.Model) error {
	_, err := m.Reconcile(ctx, models)
	return err
}

// Reconcile makes the served models those of a configuration, as an OVMS
// config reload does: a new model is published and its versions loaded; a
// model whose configuration changed is loaded again as a whole (its old
// versions serve until the new ones are loaded, then retire after their
// in-flight requests); an unchanged model only picks up added or removed
// version folders; a model no longer listed retires (its versions go to
// END and it stays known, as in OVMS). Failures of one model do not stop
// the others; the returned error joins them (wrapping ErrLoadFailed).
// changed reports whether anything was loaded or unloaded.
func (m *Manager) Reconcile(ctx context.Context, models []config.Model) (changed bool, err error) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	var errs []error
	want := make(map[string]bool, len(models))
	for _, cfg := range models {
		if want[cfg.Name] {
			m.log.WithField("model", cfg.Name).Warn("duplicated model name; only the first definition is loaded")
			continue
		}
		want[cfg.Name] = true
		old := (*m.models.Load())[cfg.Name]
		if old != nil && !old.retired.Load() && reflect.DeepEqual(old.cfg, cfg) {
			c, err := m.refreshModel(ctx, old, false)
			changed = changed || c
			if err != nil {
				errs = append(errs, fmt.Errorf("model %s: %w", cfg.Name, err))
			}
			continue
		}
		changed = true
		m.gens[cfg.Name]++
		mod := newModel(cfg, m.gens[cfg.Name], m.log)
		if old == nil || old.retired.Load() {
			m.publish(mod) // requests wait for its LOADING versions
		} else {
			mod.log.Info("model configuration changed; loading all its versions again")
		}
		if err := m.loadModel(ctx, mod); err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", cfg.Name, err))
		}
		m.publish(mod)
		if old != nil && !old.retired.Load() {
			m.retire(ctx, old)
		}
	}
	for name, mod := range *m.models.Load() {
		if !want[name] && !mod.retired.Load() {
			mod.log.Info("model removed from the configuration; retiring it")
			m.retire(ctx, mod)
			changed = true
		}
	}
	m.ready.Store(true)
	if len(errs) > 0 {
		return changed, fmt.Errorf("%w: %w", ErrLoadFailed, errors.Join(errs...))
	}
	return changed, nil
}

// publish makes mod the model of its name for new requests.
func (m *Manager) publish(mod *Model) {
	next := copyMap(*m.models.Load())
	next[mod.Name] = mod
	m.models.Store(&next)
}

// retire unloads every version of a model that left the configuration or
// was replaced (each after its in-flight requests).
func (m *Manager) retire(ctx context.Context, mod *Model) {
	mod.retired.Store(true)
	mod.mu.Lock()
	defer mod.mu.Unlock()
	for _, v := range mod.Versions() {
		m.unloadVersion(ctx, v)
	}
	mod.closeRepo()
}

func copyMap(in map[string]*Model) map[string]*Model {
	out := make(map[string]*Model, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// loadModel finds the model's versions and loads those the policy selects.
func (m *Manager) loadModel(ctx context.Context, mod *Model) error {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	found, err := m.versionsOf(ctx, mod, mod.log)
	if err != nil {
		mod.log.WithError(err).Error("listing the model's version folders failed")
		mod.listErr = err.Error()
		return err
	}
	if len(found) == 0 {
		mod.log.WithField("base_path", mod.cfg.BasePath).Warn("no version found for model in path")
		return nil
	}
	var errs []error
	for _, n := range mod.cfg.VersionPolicy.Select(versionNumbers(found)) {
		v := newVersion(mod, n, found[n])
		mod.addVersion(v)
		if err := m.loadVersion(ctx, mod, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close unloads every version (waiting for in-flight requests).
func (m *Manager) Close(ctx context.Context) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	for _, mod := range m.Models() {
		mod.mu.Lock()
		for _, v := range mod.Versions() {
			m.unloadVersion(ctx, v)
		}
		mod.closeRepo()
		mod.mu.Unlock()
	}
	m.removeCache()
}

// Acquire resolves name and version (0 = default) for one request and pins
// the version, waiting for one that is loading. Release it when done.
func (m *Manager) Acquire(ctx context.Context, name string, version int64) (*Version, error) {
	mod, err := m.Model(name)
	if err != nil {
		return nil, err
	}
	return mod.Acquire(ctx, version)
}

// Available resolves name and version for a metadata request: the version
// must be AVAILABLE now (no waiting), as OVMS answers metadata.
func (m *Manager) Available(name string, version int64) (*Version, error) {
	mod, err := m.Model(name)
	if err != nil {
		return nil, err
	}
	v, err := mod.Resolve(version)
	if err != nil {
		return nil, err
	}
	switch s, _ := v.Status(); {
	case s == StateAvailable:
		return v, nil
	case s >= StateUnloading:
		return nil, apierr.New(apierr.ModelVersionNotLoadedAnymore)
	default:
		return nil, apierr.New(apierr.ModelVersionNotLoadedYet)
	}
}
