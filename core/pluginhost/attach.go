package pluginhost

import (
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// Attach wraps a device client that is not a process of this host (an
// in-process plugin served over an in-memory connection, as in tests) as an
// Instance. Kill only unmaps the arena (once nothing holds it); Exited is
// always false.
func Attach(family string, client *host.Client, arena *shm.Arena, info *device.Info) *Instance {
	return &Instance{Family: family, Key: Key{Family: family}, Device: client, Arena: arena, Info: info, suspects: newSuspects()}
}
