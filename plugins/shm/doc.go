// Package shm is the shared-memory arena between the ovms core (the host) and
// a plugin process.
//
// The host creates one memfd per plugin process, maps it once and hands it to
// the child as file descriptor 3; the child maps it once too. Nothing is
// mapped per request. The arena is split in two zones:
//
//   - the host zone [0, Split): the host allocates input tensors here and
//     frees them when the plugin's Infer call has returned; the plugin only
//     reads them, and only during that call;
//   - the plugin zone [Split, Size): the plugin allocates output tensors here
//     and leases them to the host with the Infer response; the host reads
//     them until it has sent its answer to the client and then releases the
//     lease, after which the plugin frees the buffers.
//
// Each zone has exactly one allocator, owned by one process, so no lock is
// shared between processes. Every offset and length that arrives from the
// other side is bounds-checked (Arena.Bytes) before use.
//
// A device reaches the arena through device.Env, and one that writes its
// outputs with Env.Respond never touches this package. The arena's creation
// (host.CreateArena, host.OpenArenaFromEnv) and the request channel
// (plugins/host/dataplane) are the SDK's and the core's business; Map,
// NewRegionTable, RegionTable.Map and ClientPath are used by them too.
package shm
