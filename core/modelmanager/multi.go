package modelmanager

import "github.com/ovmsgo/ovms/core/pluginhost"

// backends are the plugin instances a version is loaded in: one, or
// several for MULTI:A,B (in the listed order, which is their priority).
func (v *Version) backends() []*pluginhost.Instance {
	return append([]*pluginhost.Instance{v.inst}, v.more...)
}

// pick chooses the instance a request runs on: the only one, or for
// MULTI the one with the fewest requests in flight (the earlier listed
// on a tie). finished must be called when the request is done.
func (v *Version) pick() (*pluginhost.Instance, func()) {
	if len(v.more) == 0 {
		return v.inst, func() {}
	}
	best, least := 0, v.busy[0].Load()
	for i := 1; i < len(v.busy); i++ {
		if n := v.busy[i].Load(); n < least {
			best, least = i, n
		}
	}
	v.busy[best].Add(1)
	inst := v.inst
	if best > 0 {
		inst = v.more[best-1]
	}
	return inst, func() { v.busy[best].Add(-1) }
}
