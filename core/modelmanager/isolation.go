package modelmanager

import (
	"context"

	"github.com/ovmsgo/ovms/core/pluginhost"
)

// keyedDevices is a Devices that can run a model in a process of its own
// (the plugin host does).
type keyedDevices interface {
	GetKey(ctx context.Context, key pluginhost.Key) (*pluginhost.Instance, error)
	Stop(key pluginhost.Key)
}

// SetPluginIsolation chooses how models share plugin processes
// (--plugin_isolation): one process per device family (the default), or
// one per model, so that a model whose requests crash its plugin takes no
// other model down. Call it before Apply.
func (m *Manager) SetPluginIsolation(i pluginhost.Isolation) { m.isolation = i }

// plugin returns the plugin process a model's versions load into on a
// device family.
func (m *Manager) plugin(ctx context.Context, family, model string) (*pluginhost.Instance, error) {
	if kd, ok := m.devices.(keyedDevices); ok && m.isolation == pluginhost.IsolationModel {
		return kd.GetKey(ctx, pluginhost.Key{Family: family, Model: model})
	}
	return m.devices.Get(ctx, family)
}

// count records that v runs on insts' processes instead of those it was
// counted on before (none, or its backends before a reload).
func (m *Manager) count(v *Version, insts []*pluginhost.Instance) {
	keys := make([]pluginhost.Key, len(insts))
	for i, inst := range insts {
		keys[i] = inst.Key
	}
	m.recount(v, keys)
}

// uncount records that v runs on no process any more; a model's own
// process that no version uses then stops.
func (m *Manager) uncount(v *Version) { m.recount(v, nil) }

func (m *Manager) recount(v *Version, keys []pluginhost.Key) {
	m.useMu.Lock()
	defer m.useMu.Unlock()
	if m.uses == nil {
		m.uses = map[pluginhost.Key]int{}
	}
	for _, k := range keys { // first, so that a reload never drops to zero
		m.uses[k]++
	}
	for _, k := range v.counted {
		if m.uses[k]--; m.uses[k] <= 0 {
			delete(m.uses, k)
			if kd, ok := m.devices.(keyedDevices); ok && k.Model != "" {
				kd.Stop(k)
			}
		}
	}
	v.counted = keys
}
