package modelmanager

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
)

// PluginExited is the plugin host's exit handler. The moment a plugin
// process is seen to have ended, before its requests in flight fail, every
// AVAILABLE version that runs on it goes to LOADING at once: new requests
// wait for the restarted plugin (bounded by their deadline and loadWait)
// instead of failing on a dead backend, and the requests in flight run
// again there (see Infer).
func (m *Manager) PluginExited(inst *pluginhost.Instance) {
	n := 0
	for _, mod := range m.Models() {
		for _, v := range mod.Versions() {
			if v.markCrashed(inst) {
				n++
			}
		}
	}
	m.log.WithFields(logrus.Fields{"plugin": inst.Key.String(), "versions": n}).Warn("device plugin ended: its model versions wait for it to restart")
}

// markCrashed moves an AVAILABLE version that runs on inst to LOADING and
// marks it for Recover.
func (v *Version) markCrashed(inst *pluginhost.Instance) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if State(v.state.Load()) != StateAvailable || !v.runsOn(func(b *pluginhost.Instance) bool { return b == inst }) {
		return false
	}
	v.recovering.Store(true)
	v.setStateLocked(StateLoading, ErrOK)
	return true
}

// runsOn reports whether one of v's backends satisfies f (v.mu held, or
// no load running).
func (v *Version) runsOn(f func(*pluginhost.Instance) bool) bool {
	if v.inst == nil {
		return false
	}
	if f(v.inst) {
		return true
	}
	for _, b := range v.more {
		if f(b) {
			return true
		}
	}
	return false
}

// setBackends sets a loaded version's metadata and backends (under v.mu,
// so that PluginExited reads them consistently) and counts its plugin
// processes (isolation.go).
func (m *Manager) setBackends(v *Version, info *device.ModelInfo, insts []*pluginhost.Instance, names *names) {
	v.mu.Lock()
	v.info, v.inst, v.more, v.names = info, insts[0], insts[1:], names
	v.mu.Unlock()
	m.count(v, insts)
}

// checkBackends, after a version became AVAILABLE, catches a plugin that
// ended while the version was being loaded into it (PluginExited ran
// before the version showed that backend): the version goes to LOADING
// for Recover like the others.
func (v *Version) checkBackends() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if State(v.state.Load()) == StateAvailable && v.runsOn(func(b *pluginhost.Instance) bool { return b.Exited() || b.Gone() }) {
		v.recovering.Store(true)
		v.setStateLocked(StateLoading, ErrOK)
	}
}

// Recover loads the versions a plugin process served into its restarted
// instance: each was marked by PluginExited; its requests holding it end
// (they failed with the old process and wait for it unpinned), it is
// compiled again and becomes AVAILABLE. It is the plugin host's restart
// handler. A version whose reload fails stays marked and is tried again
// at the next restart.
//
// Models are reloaded in parallel (each load waits for a load slot, as at
// startup) under applyMu held shared and each model's own lock, so a slow
// or hung load of an unrelated model never holds up a recovery.
func (m *Manager) Recover(family string, inst *pluginhost.Instance) {
	ctx := context.Background()
	start := time.Now()
	m.applyMu.RLock()
	defer m.applyMu.RUnlock()
	var (
		wg sync.WaitGroup
		n  atomic.Int64
	)
	for _, mod := range m.Models() {
		if mod.retired.Load() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Add(int64(m.recoverModel(ctx, mod, inst)))
		}()
	}
	wg.Wait()
	m.log.WithFields(logrus.Fields{"plugin": inst.Key.String(), "versions": n.Load(), "took": time.Since(start).Round(time.Millisecond)}).Info("model versions reloaded into the restarted device plugin")
}

// recoverModel reloads mod's versions marked for recovery that ran on the
// process inst replaces, and returns how many are AVAILABLE again.
func (m *Manager) recoverModel(ctx context.Context, mod *Model, inst *pluginhost.Instance) int {
	mod.mu.Lock()
	defer mod.mu.Unlock()
	n := 0
	for _, v := range mod.Versions() {
		if !v.recovering.Load() || !v.usesDead(inst) {
			continue
		}
		if s, _ := v.Status(); s >= StateUnloading {
			continue
		}
		v.drain(ctx)
		if err := m.loadVersion(ctx, mod, v); err != nil {
			mod.log.WithError(err).WithField("version", v.Number).Error("reloading into the restarted device plugin failed")
			continue
		}
		if s, _ := v.Status(); s == StateAvailable {
			v.recovering.Store(false)
			n++
		}
	}
	return n
}

// usesDead reports whether v runs on an ended process that inst replaces
// (the same key, not inst itself).
func (v *Version) usesDead(inst *pluginhost.Instance) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.runsOn(func(b *pluginhost.Instance) bool { return b.Key == inst.Key && b != inst })
}
