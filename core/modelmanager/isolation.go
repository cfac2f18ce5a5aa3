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

// plugin returns the plugin process v loads into on a device family. A
// model's own process is counted as used by the load until it ends
// (unreserve), so that a failed load stops it and a sibling's does not.
func (m *Manager) plugin(ctx context.Context, family string, v *Version) (*pluginhost.Instance, error) {
	kd, ok := m.devices.(keyedDevices)
	if !ok || m.isolation != pluginhost.IsolationModel {
		return m.devices.Get(ctx, family)
	}
	key := pluginhost.Key{Family: family, Model: v.Model}
	m.useMu.Lock()
	m.use(key)
	v.reserved = append(v.reserved, key)
	m.useMu.Unlock()
	return kd.GetKey(ctx, key)
}

// unreserve ends a load's use of the processes plugin handed it; one that
// no version runs on then stops.
func (m *Manager) unreserve(v *Version) {
	m.useMu.Lock()
	defer m.useMu.Unlock()
	for _, k := range v.reserved {
		m.unuse(k)
	}
	v.reserved = nil
}

// use and unuse count a process's users (m.useMu held); a model's own
// process stops when its count drops to zero.
func (m *Manager) use(k pluginhost.Key) {
	if m.uses == nil {
		m.uses = map[pluginhost.Key]int{}
	}
	m.uses[k]++
}

func (m *Manager) unuse(k pluginhost.Key) {
	if m.uses[k]--; m.uses[k] > 0 {
		return
	}
	delete(m.uses, k)
	if kd, ok := m.devices.(keyedDevices); ok && k.Model != "" {
		kd.Stop(k)
	}
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
	for _, k := range keys { // first, so that a reload never drops to zero
		m.use(k)
	}
	for _, k := range v.counted {
		m.unuse(k)
	}
	v.counted = keys
}
