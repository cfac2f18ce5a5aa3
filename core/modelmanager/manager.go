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
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/storage"
	"github.com/ovmsgo/ovms/internal/coreprocs"
	"github.com/ovmsgo/ovms/internal/slots"
)

// Devices gives access to device plugin instances.
type Devices interface {
	// Get returns the running plugin of a device family.
	Get(ctx context.Context, family string) (*pluginhost.Instance, error)
}

// Manager owns all served models.
//
// Locks: every model has its own lock (Model.mu), held while one of its
// versions loads or unloads, so that the loads of different models never
// wait for each other. applyMu is held shared by Reconcile, LoadModel,
// UnloadModel and Recover, and exclusively by Close, which needs the whole
// set still. reconcileMu serializes configuration changes; publishMu the
// short updates of the model table.
type Manager struct {
	// metrics binds each loaded version's instruments; nil: metrics off.
	metrics *metrics.Registry
	devices Devices
	log     *logrus.Entry

	applyMu     sync.RWMutex
	reconcileMu sync.Mutex
	publishMu   sync.Mutex
	models      atomic.Pointer[map[string]*Model] // replaced, never mutated
	graphs      atomic.Pointer[map[string]*Model] // DAG pipelines (graph.go); replaced, never mutated
	gens        map[string]uint64                 // model objects made per name (under reconcileMu)

	cacheDir     string           // where remote versions are downloaded
	nireqTimeout time.Duration    // how long a request waits for a nireq slot
	loadTimeout  time.Duration    // bounds one version's load; 0: none
	loadSlots    *slots.Semaphore // bounds the versions loading at once, largest first
	ready        atomic.Bool
	holdReady    atomic.Bool // see HoldReady

	sequenceCleaner time.Duration // see SetSequenceCleaner
	loaders         Loaders       // custom loaders (loader.go); nil: none

	isolation pluginhost.Isolation // see SetPluginIsolation
	useMu     sync.Mutex
	uses      map[pluginhost.Key]int // versions running on each plugin process (isolation.go)
}

// New returns an empty manager that loads up to DefaultLoadParallelism
// versions at once, with no load timeout.
func New(devices Devices, log *logrus.Entry) *Manager {
	m := &Manager{devices: devices, log: log, gens: map[string]uint64{}}
	m.models.Store(&map[string]*Model{})
	m.SetLoadParallelism(0)
	return m
}

// DefaultLoadParallelism is how many versions load at once unless set:
// the machine's CPUs as Go counts them (GOMAXPROCS before
// OVMS_CORE_GOMAXPROCS may lower the core's, internal/coreprocs), at
// least 2 (creating an engine session is mostly one thread's work, and a
// load also waits on files and the plugin).
func DefaultLoadParallelism() int { return max(2, coreprocs.Machine()) }

// LoadsInFlight is how many loads the manager has in its device plugins at
// once for a load parallelism of n (0: the default): twice n. A plugin
// compiles n at once (device.EnvLoadParallelism); the others wait in the
// plugin with their call received, so that it starts the next compile as
// soon as one ends instead of idling for the core's round trip (the
// reply, the core's bookkeeping of the loaded version, the next call).
func LoadsInFlight(n int) int {
	if n <= 0 {
		n = DefaultLoadParallelism()
	}
	return loadsInFlightFactor * n
}

// loadsInFlightFactor is LoadsInFlight's multiple of the load parallelism
// (4 measured no faster than 2 on the scale group's 200 models).
const loadsInFlightFactor = 2

// SetLoadParallelism sets how many versions compile at once (0: the
// default): the manager keeps LoadsInFlight(n) loads in its plugins at
// once, and the server tells the plugins to compile n of them at once.
// Call it before Apply.
func (m *Manager) SetLoadParallelism(n int) {
	m.loadSlots = slots.New(LoadsInFlight(n))
}

// SetLoadTimeout bounds the load of one version (download, plugin start
// and compilation; not the wait for a load slot): a load that takes longer
// fails, and the version is left as a failed load. 0: no bound. Call it
// before Apply.
func (m *Manager) SetLoadTimeout(d time.Duration) { m.loadTimeout = d }

// Ready reports whether the initial configuration has been applied (OVMS
// stays ready even when some models failed to load).
func (m *Manager) Ready() bool { return m.ready.Load() }

// HoldReady keeps Ready false after Apply until ReleaseReady: the server
// applies its pipelines after the models, and is ready (as OVMS) only once
// they are published too.
func (m *Manager) HoldReady() { m.holdReady.Store(true) }

// ReleaseReady ends HoldReady: Ready turns true.
func (m *Manager) ReleaseReady() {
	m.holdReady.Store(false)
	m.ready.Store(true)
}

// Model returns a model by name, or else the graph (DAG pipeline) of that
// name: MODEL_NAME_MISSING if neither is known (OVMS's
// PIPELINE_DEFINITION_NAME_MISSING has the same text). A model removed
// from the configuration yields its name to a graph.
func (m *Manager) Model(name string) (*Model, error) {
	mod, ok := (*m.models.Load())[name]
	if ok && !mod.retired.Load() {
		return mod, nil
	}
	if g := m.graph(name); g != nil {
		return g, nil
	}
	if ok {
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
// version folders (unless a repository unload is in force for it); a model
// no longer listed retires (its versions go to END and it stays known, as
// in OVMS). Models are handled in parallel and their versions load in
// parallel, up to the load parallelism (an unchanged model's folders are
// listed first, on the calling goroutine: see refreshIdle). Failures of
// one model do not stop the others; the returned error joins them
// (wrapping ErrLoadFailed).
// changed reports whether anything was loaded or unloaded.
func (m *Manager) Reconcile(ctx context.Context, models []config.Model) (changed bool, err error) {
	m.reconcileMu.Lock()
	defer m.reconcileMu.Unlock()
	m.applyMu.RLock()
	defer m.applyMu.RUnlock()
	var tasks []func() (bool, error)
	// The unchanged models with local folders are listed one after the
	// other on this goroutine (refreshIdle), not each on a goroutine of
	// its own; only those with something to do get one.
	var unchanged []unchangedModel
	want := make(map[string]bool, len(models))
	current := *m.models.Load()
	for _, cfg := range models {
		if want[cfg.Name] {
			m.log.WithField("model", cfg.Name).Warn("duplicated model name; only the first definition is loaded")
			continue
		}
		want[cfg.Name] = true
		old := current[cfg.Name]
		if old != nil && !old.retired.Load() && reflect.DeepEqual(old.cfg, cfg) {
			refresh := func() (bool, error) {
				changed, err := m.refreshModel(ctx, old, false)
				if err != nil {
					err = fmt.Errorf("model %s: %w", cfg.Name, err)
				}
				return changed, err
			}
			if !storage.IsRemote(cfg.BasePath) {
				unchanged = append(unchanged, unchangedModel{mod: old, task: len(tasks)})
			}
			tasks = append(tasks, refresh)
			continue
		}
		if old != nil && !old.retired.Load() && old.cfg.Stateful != cfg.Stateful {
			// OVMS: REQUESTED_MODEL_TYPE_CHANGE; the model keeps serving.
			old.log.Error("Requested model type change on model. Stateful flag cannot be changed after model is loaded")
			tasks = append(tasks, func() (bool, error) {
				return false, fmt.Errorf("model %s: Model type cannot be changed after it is loaded", cfg.Name)
			})
			continue
		}
		m.gens[cfg.Name]++
		mod := newModel(cfg, m.gens[cfg.Name], m.log)
		replace := old != nil && !old.retired.Load()
		if replace {
			mod.log.Info("model configuration changed; loading all its versions again")
		} else {
			m.publish(mod) // requests wait for its LOADING versions
		}
		tasks = append(tasks, func() (bool, error) {
			err := m.loadModel(ctx, mod)
			m.publish(mod)
			if replace {
				m.retire(ctx, old)
			}
			return true, err
		})
	}
	for name, mod := range current {
		if !want[name] && !mod.retired.Load() {
			tasks = append(tasks, func() (bool, error) {
				mod.log.Info("model removed from the configuration; retiring it")
				m.retire(ctx, mod)
				return true, nil
			})
		}
	}
	changes, errs := make([]bool, len(tasks)), make([]error, len(tasks))
	var wg sync.WaitGroup
	run := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			changes[i], errs[i] = tasks[i]()
		}()
	}
	scanned := make([]bool, len(tasks))
	for _, u := range unchanged {
		scanned[u.task] = true
	}
	for i := range tasks {
		if !scanned[i] {
			run(i)
		}
	}
	// The requests the server is serving meanwhile go first: a yield
	// after each model, and a pause as long as the listing after every
	// listBurst of it.
	listed, pace := time.Now(), newPacer()
	for _, u := range unchanged {
		if !m.refreshIdle(ctx, u.mod) {
			run(u.task) // something to do, or to look at closely: as before
		}
		pace.step()
	}
	if len(unchanged) > 0 {
		m.log.WithFields(logrus.Fields{"models": len(unchanged), "took": time.Since(listed).Round(time.Microsecond).String(),
			"pauses": pace.pauses, "paused": pace.paused.Round(time.Microsecond).String()}).Debug("listed the unchanged models' folders")
	}
	wg.Wait()
	var failed []error
	for i := range tasks {
		changed = changed || changes[i]
		if errs[i] != nil {
			failed = append(failed, errs[i])
		}
	}
	if !m.holdReady.Load() {
		m.ready.Store(true)
	}
	if len(failed) > 0 {
		return changed, fmt.Errorf("%w: %w", ErrLoadFailed, errors.Join(failed...))
	}
	return changed, nil
}

// publish makes mod the model of its name for new requests.
func (m *Manager) publish(mod *Model) {
	m.publishMu.Lock()
	defer m.publishMu.Unlock()
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

// loadModel finds the model's versions and loads those the policy selects,
// in parallel. Errors name the model.
func (m *Manager) loadModel(ctx context.Context, mod *Model) error {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	found, err := m.versionsOf(ctx, mod, mod.log)
	if err != nil {
		mod.log.WithError(err).Error("listing the model's version folders failed")
		mod.listErr = err.Error()
		return fmt.Errorf("model %s: %w", mod.Name, err)
	}
	if len(found) == 0 {
		mod.log.WithField("base_path", mod.cfg.BasePath).Warn("no version found for model in path")
		return nil
	}
	var vs []*Version
	selected, _ := m.selectVersions(ctx, mod, found)
	for _, n := range selected {
		v := newVersion(mod, n, found[n])
		mod.addVersion(v)
		vs = append(vs, v)
	}
	if err := m.loadVersions(ctx, mod, vs); err != nil {
		return fmt.Errorf("model %s: %w", mod.Name, err)
	}
	return nil
}

// Close unloads every version (waiting for in-flight requests).
func (m *Manager) Close(ctx context.Context) {
	m.reconcileMu.Lock()
	defer m.reconcileMu.Unlock()
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
	case mod.graph && s >= StateUnloading:
		return nil, apierr.New(apierr.PipelineDefinitionNotLoadedAnymore)
	case mod.graph:
		return nil, apierr.New(apierr.PipelineDefinitionNotLoadedYet)
	case s >= StateUnloading:
		return nil, apierr.New(apierr.ModelVersionNotLoadedAnymore)
	default:
		return nil, apierr.New(apierr.ModelVersionNotLoadedYet)
	}
}

// SetMetrics makes every version loaded from now on report to r (nil:
// metrics off). Call it before Apply.
func (m *Manager) SetMetrics(r *metrics.Registry) { m.metrics = r }
