package modelmanager

import (
	"context"
	"io"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
)

// LoadModel (re)loads a configured model from its base path, as the KServe
// model repository extension's load asks: version folders are listed again
// and filtered by the version policy; versions that are new, retired (END)
// or failed are loaded, AVAILABLE ones are kept, and versions the policy no
// longer selects are retired after their in-flight requests. It ends a
// repository unload in force. Unknown names get MODEL_NAME_MISSING; the
// error joins the versions that failed. Only the model's own loads and
// unloads wait for it, and it waits only for those.
func (m *Manager) LoadModel(ctx context.Context, name string) error {
	m.applyMu.RLock()
	defer m.applyMu.RUnlock()
	for range 2 { // once more if a config reload replaced the model meanwhile
		mod, err := m.liveModel(name)
		if err != nil {
			return err
		}
		_, err = m.refreshModel(ctx, mod, true)
		switch {
		case apierr.Is(err, apierr.ModelNameMissing):
			continue
		case err != nil:
			return apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "failed to load model %s: %v", name, err)
		}
		return nil
	}
	return apierr.New(apierr.ModelNameMissing)
}

// liveModel finds the configured model of a name: MODEL_NAME_MISSING when
// it is unknown, was removed from the configuration, or is a pipeline.
func (m *Manager) liveModel(name string) (*Model, error) {
	mod, err := m.Model(name)
	if err != nil {
		return nil, err
	}
	if mod.retired.Load() || mod.graph { // removed from the configuration, or a pipeline
		return nil, apierr.New(apierr.ModelNameMissing)
	}
	return mod, nil
}

// UnloadModel retires every version of a model (UNLOADING, in-flight
// requests finish, END); the model stays known, so status shows its END
// versions and LoadModel can bring it back. The unload stays in force
// across file-system polls and config reloads until LoadModel, or until
// the model's configuration changes.
func (m *Manager) UnloadModel(ctx context.Context, name string) error {
	m.applyMu.RLock()
	defer m.applyMu.RUnlock()
	mod, err := m.Model(name)
	if err != nil {
		return err
	}
	if mod.graph { // pipelines follow the configuration only
		return apierr.New(apierr.ModelNameMissing)
	}
	mod.mu.Lock()
	defer mod.mu.Unlock()
	mod.unloaded = true
	for _, v := range mod.Versions() {
		m.unloadVersion(ctx, v)
	}
	mod.log.Info("model unloaded; it stays unloaded until a repository load or a change of its configuration")
	return nil
}

// refreshModel brings a model's versions in line with its folder and
// version policy (see LoadModel); changed reports whether a version was
// loaded or retired. explicit is a repository load: it ends an unload in
// force and tries versions that failed to load again; a poll (not
// explicit) does neither, so that an unloaded model stays unloaded and a
// broken version is not loaded again every second.
func (m *Manager) refreshModel(ctx context.Context, mod *Model, explicit bool) (changed bool, err error) {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	if mod.retired.Load() { // replaced or removed while we waited
		return false, apierr.New(apierr.ModelNameMissing)
	}
	if explicit {
		mod.unloaded = false
	} else if mod.unloaded {
		return false, nil
	}
	// Polls repeat: the listing's complaints are logged once per change.
	found, err := m.versionsOf(ctx, mod, quietLog)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != mod.listErr {
		if err != nil {
			mod.log.WithError(err).Error("listing the model's version folders failed; its versions stay as they are")
		} else {
			mod.log.Info("the model's version folders can be listed again")
		}
		mod.listErr = msg
	}
	if err != nil {
		return false, err
	}
	keep := map[int64]bool{}
	var load, replaced []*Version
	selected, retired := m.selectVersions(ctx, mod, found)
	for _, n := range selected {
		keep[n] = true
		if v := mod.Version(n); v != nil {
			if s, c := v.Status(); s == StateAvailable || (s == StateLoading && (c == ErrOK || !explicit)) {
				continue
			}
			replaced = append(replaced, v)
		}
		v := newVersion(mod, n, found[n])
		mod.setVersion(v)
		load = append(load, v)
	}
	if len(load) > 0 {
		changed = true
		err = m.loadVersions(ctx, mod, load)
	}
	// A failed version may still be counted on the process it ran on
	// before a crash (its reload there failed): it runs nowhere now. After
	// the loads, so that a process its replacement uses never stops.
	for _, v := range replaced {
		m.uncount(v)
	}
	failing := false // a selected version is not serving
	for n := range keep {
		if v := mod.Version(n); v == nil {
			failing = true
		} else if s, _ := v.Status(); s != StateAvailable {
			failing = true
		}
	}
	for _, v := range mod.Versions() {
		if keep[v.Number] {
			continue
		}
		if s, _ := v.Status(); failing && s == StateAvailable && !retired[v.Number] {
			// Keep serving what works until its replacement loads.
			if !v.kept.Swap(true) {
				mod.log.WithField("version", v.Number).Warn("version kept available: a version meant to replace it failed to load")
			}
			continue
		}
		if s, _ := v.Status(); s < StateUnloading {
			changed = true
		}
		m.unloadVersion(ctx, v)
	}
	return changed, err
}

// unchangedModel is a model a Reconcile keeps as it is, whose local
// version folders it lists again: tasks[task] refreshes it.
type unchangedModel struct {
	mod  *Model
	task int
}

// refreshIdle lists an unchanged model's version folders, as a poll's
// refreshModel does first, and reports whether that is all refreshModel
// would do: no version to load, retire or mark kept, nothing to log, no
// error. It decides on the safe side: false sends the model through
// refreshModel, which lists the folders again and acts.
//
// Reconcile calls it for every unchanged local model from one goroutine,
// yielding between models, instead of starting a goroutine per model that
// each list a folder: with hundreds of models those goroutines filled the
// Go scheduler's run queues ahead of the requests being served, and every
// reload and every file-system poll stalled the requests for milliseconds
// (docs/performance.md, "Many models"). A model whose lock is held (a
// load or unload in progress) is left to refreshModel, which waits for it
// in its own goroutine.
func (m *Manager) refreshIdle(ctx context.Context, mod *Model) bool {
	if !mod.mu.TryLock() {
		return false
	}
	defer mod.mu.Unlock()
	if mod.retired.Load() || mod.unloaded || mod.listErr != "" || mod.cfg.CustomLoader != nil {
		return false
	}
	found, err := m.versionsOf(ctx, mod, quietLog)
	if err != nil {
		return false
	}
	selected := mod.cfg.VersionPolicy.Select(versionNumbers(found))
	keep := make(map[int64]bool, len(selected))
	failing := false
	for _, n := range selected {
		keep[n] = true
		v := mod.Version(n)
		if v == nil {
			return false // to load
		}
		switch s, _ := v.Status(); s {
		case StateAvailable:
		case StateLoading:
			failing = true // a poll leaves a loading or failed version be
		default:
			return false // to load again
		}
	}
	for _, v := range mod.Versions() {
		if keep[v.Number] {
			continue
		}
		s, _ := v.Status()
		if failing && s == StateAvailable && v.kept.Load() {
			continue // kept serving, already said so
		}
		if s < StateUnloading {
			return false // to retire, or to keep with a warning
		}
	}
	return true
}

// IndexEntry is one line of the model repository index: a model version,
// or a model with no version (Version "").
type IndexEntry struct {
	Name, Version string
	// State is READY, UNAVAILABLE, LOADING or UNLOADING (Triton's words).
	State string
	// Reason says why a version is not READY.
	Reason string
}

// Index lists every model version in name and version order; with
// readyOnly, only READY ones.
func (m *Manager) Index(readyOnly bool) []IndexEntry {
	var out []IndexEntry
	for _, mod := range m.Models() {
		vs := mod.Versions()
		if len(vs) == 0 && !readyOnly {
			out = append(out, IndexEntry{Name: mod.Name, State: "UNAVAILABLE", Reason: "no version found in " + mod.cfg.BasePath})
		}
		for _, v := range vs {
			e := IndexEntry{Name: mod.Name, Version: strconv.FormatInt(v.Number, 10)}
			switch s, c := v.Status(); {
			case s == StateAvailable:
				e.State = "READY"
			case s == StateLoading && c != ErrOK:
				e.State, e.Reason = "UNAVAILABLE", "loading failed; see the server log"
			case s == StateStart || s == StateLoading:
				e.State = "LOADING"
			case s == StateUnloading:
				e.State = "UNLOADING"
			default:
				e.State, e.Reason = "UNAVAILABLE", "unloaded"
			}
			if !readyOnly || e.State == "READY" {
				out = append(out, e)
			}
		}
	}
	return out
}

// quietLog discards the version listing's per-entry warnings on polls.
var quietLog = logrus.NewEntry(&logrus.Logger{Out: io.Discard, Formatter: &logrus.TextFormatter{}, Level: logrus.PanicLevel})
