package pluginhost

import "github.com/ovmsgo/ovms/plugins/device"

// LeaseOutputs counts the bytes of a plugin answer's outputs in the arena
// (those not in a client's region) as held by the core, and returns them;
// the caller hands them to UnleaseOutputs when it releases the answer's
// lease. The plugin allocates outputs in its own process, so the core's
// count is what ovms_arena_bytes_in_use reports for the plugin zone.
func (i *Instance) LeaseOutputs(outs []device.TensorRef) int64 {
	var n int64
	for _, o := range outs {
		if o.Region == 0 {
			n += int64(o.Length)
		}
	}
	i.leased.Add(n)
	return n
}

// UnleaseOutputs ends the count of n bytes LeaseOutputs returned.
func (i *Instance) UnleaseOutputs(n int64) { i.leased.Add(-n) }

// LeasedOutputBytes is the bytes of plugin outputs the core holds leased.
func (i *Instance) LeasedOutputBytes() uint64 { return uint64(max(i.leased.Load(), 0)) }
