package modelmanager

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/storage"
)

// Model is one servable: a name, its configuration and its versions.
type Model struct {
	// Name is the servable name.
	Name string

	cfg config.Model
	log *logrus.Entry
	gen uint64 // the manager's count of model objects made for this name's configurations

	graph   bool        // a DAG pipeline (graph.go), not a model
	retired atomic.Bool // removed from the configuration; its versions are END
	listErr string      // the last version-listing failure (under mu), logged once
	// retiredErr is the last failure to ask the custom loader for retired
	// versions (under mu), logged once.
	retiredErr string
	reloads    uint64             // versions loaded again for a request's shape (under mu)
	repo       storage.Repository // where the version folders are (under mu; opened on first use)
	// unloaded is a repository unload in force (under mu): polls leave
	// the model alone until a repository load or a new configuration.
	unloaded bool

	mu       sync.Mutex                 // serializes loads and unloads
	versions atomic.Pointer[[]*Version] // ascending by number; replaced, never mutated
}

func newModel(cfg config.Model, gen uint64, log *logrus.Entry) *Model {
	m := &Model{Name: cfg.Name, cfg: cfg, gen: gen, log: log.WithField("model", cfg.Name)}
	m.versions.Store(&[]*Version{})
	return m
}

// pluginName is the name the model's versions have in their plugin.
func (m *Model) pluginName() string {
	if m.gen <= 1 {
		return m.Name
	}
	return m.Name + "@" + strconv.FormatUint(m.gen, 10)
}

// Config is the model's configuration.
func (m *Model) Config() config.Model { return m.cfg }

// Versions lists every known version in ascending order, including failed
// and retired ones.
func (m *Model) Versions() []*Version { return *m.versions.Load() }

// Version finds a version by number without regard to its state.
func (m *Model) Version(n int64) *Version {
	for _, v := range m.Versions() {
		if v.Number == n {
			return v
		}
	}
	return nil
}

// Default is the highest AVAILABLE version, or nil.
func (m *Model) Default() *Version {
	vs := m.Versions()
	for i := len(vs) - 1; i >= 0; i-- {
		if s, _ := vs[i].Status(); s == StateAvailable {
			return vs[i]
		}
	}
	return nil
}

// loadingDefault is the highest version being loaded without error (one
// a request for the default version may wait for, e.g. while a restarted
// device plugin takes its versions back), or nil.
func (m *Model) loadingDefault() *Version {
	vs := m.Versions()
	for i := len(vs) - 1; i >= 0; i-- {
		if s, c := vs[i].Status(); (s == StateLoading || s == StateStart) && c == ErrOK {
			return vs[i]
		}
	}
	return nil
}

// Available lists the AVAILABLE versions in ascending order.
func (m *Model) Available() []*Version {
	var out []*Version
	for _, v := range m.Versions() {
		if s, _ := v.Status(); s == StateAvailable {
			out = append(out, v)
		}
	}
	return out
}

// Resolve finds the version a request asks for (0 = the default) without
// pinning it: MODEL_VERSION_MISSING when it is not known.
func (m *Model) Resolve(n int64) (*Version, error) {
	if m.graph {
		if vs := m.Versions(); len(vs) > 0 && (n == 0 || n == GraphVersion) {
			return vs[0], nil
		}
		return nil, apierr.New(apierr.ModelVersionMissing)
	}
	var v *Version
	if n == 0 {
		v = m.Default()
	} else {
		v = m.Version(n)
	}
	if v == nil {
		return nil, apierr.New(apierr.ModelVersionMissing)
	}
	return v, nil
}

// Acquire resolves and pins a version for one request, waiting for a
// loading version as OVMS does (for the default version: the highest one
// being loaded when none is AVAILABLE). The caller must call Release on it.
func (m *Model) Acquire(ctx context.Context, n int64) (*Version, error) {
	if m.graph {
		return m.acquireGraph(ctx)
	}
	v, err := m.Resolve(n)
	if err != nil && n == 0 {
		if v = m.loadingDefault(); v != nil {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	if err := v.Acquire(ctx, true); err != nil {
		return nil, err
	}
	return v, nil
}

func (m *Model) addVersion(v *Version) {
	old := m.Versions()
	vs := append(append(make([]*Version, 0, len(old)+1), old...), v)
	sort.Slice(vs, func(i, j int) bool { return vs[i].Number < vs[j].Number })
	m.versions.Store(&vs)
}

// setVersion adds v or replaces the version of the same number (a retired
// or failed one being loaded again).
func (m *Model) setVersion(v *Version) {
	old := m.Versions()
	vs := make([]*Version, 0, len(old)+1)
	for _, o := range old {
		if o.Number != v.Number {
			vs = append(vs, o)
		}
	}
	vs = append(vs, v)
	sort.Slice(vs, func(i, j int) bool { return vs[i].Number < vs[j].Number })
	m.versions.Store(&vs)
}
