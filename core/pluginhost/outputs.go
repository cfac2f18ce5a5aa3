package pluginhost

import (
	"sync/atomic"

	"github.com/ovmsgo/ovms/plugins/device"
)

// LeaseOutputs counts the bytes of a plugin answer's outputs in the arena
// (those not in a client's region) as held by the core from now until the
// returned function first runs (the caller calls it when it releases the
// answer's lease; later calls do nothing). The plugin allocates them in its own process, so the
// core's count is what ovms_arena_bytes_in_use reports for the plugin zone.
func (i *Instance) LeaseOutputs(outs []device.TensorRef) (released func()) {
	var n int64
	for _, o := range outs {
		if o.Region == 0 {
			n += int64(o.Length)
		}
	}
	i.leased.Add(n)
	var done atomic.Bool
	return func() {
		if !done.Swap(true) {
			i.leased.Add(-n)
		}
	}
}

// LeasedOutputBytes is the bytes of plugin outputs the core holds leased.
func (i *Instance) LeasedOutputBytes() uint64 { return uint64(max(i.leased.Load(), 0)) }
