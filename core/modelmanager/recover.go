package modelmanager

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/pluginhost"
)

// Recover loads the versions a device plugin served into its restarted
// instance: each goes to LOADING (new requests wait for it, up to the
// usual bound), its requests in flight end (they failed with the old
// process), it is compiled again and becomes AVAILABLE. It is the plugin
// host's restart handler.
func (m *Manager) Recover(family string, inst *pluginhost.Instance) {
	ctx := context.Background()
	start := time.Now()
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	n := 0
	for _, mod := range m.Models() {
		if mod.retired.Load() {
			continue
		}
		mod.mu.Lock()
		for _, v := range mod.Versions() {
			if v.inst == nil || !usesFamily(v, family, inst) {
				continue
			}
			if s, _ := v.Status(); s != StateAvailable {
				continue
			}
			v.setState(StateLoading, ErrOK)
			v.drain(ctx)
			if err := m.loadVersion(ctx, mod, v); err != nil {
				mod.log.WithError(err).WithField("version", v.Number).Error("reloading into the restarted device plugin failed")
				continue
			}
			n++
		}
		mod.mu.Unlock()
	}
	m.log.WithFields(logrus.Fields{"plugin": family, "versions": n, "took": time.Since(start).Round(time.Millisecond)}).Info("model versions reloaded into the restarted device plugin")
}

// usesFamily reports whether v runs on a dead instance of family (one
// that is not the restarted inst).
func usesFamily(v *Version, family string, inst *pluginhost.Instance) bool {
	for _, b := range v.backends() {
		if b.Family == family && b != inst {
			return true
		}
	}
	return false
}
