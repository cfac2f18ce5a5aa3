package pluginhost

import "strings"

// MallocTunables is the glibc malloc setting a plugin process starts with
// unless its environment already sets GLIBC_TUNABLES: malloc asks for
// transparent huge pages (madvise) on the memory it maps, and every thread
// allocates from the main arena. ONNX Runtime allocates and first touches
// hundreds of MB while it creates sessions (model protos, initializers,
// prepacked weights); in these VMs a fresh 4 KiB page costs about 11
// microseconds to fault in (0.2 us per 4 KiB with a huge page). hugetlb=1
// alone gives huge pages to the main arena and to large mapped chunks, but
// the threads that create sessions allocate from arenas of their own, which
// kept their 4 KiB pages: arena_max=1 puts them on the main arena too.
// Measured on the 2-vCPU VM (docs/performance.md, "Page faults and the
// order of loads"): the six startup models ready in 1.88 s instead of 2.51 s with
// the plugin at 761 MB instead of 901 MB, 200 small models in 0.76 s
// instead of 1.06 s (the plugin's page faults 61k -> 12k), and inference
// the same within the VM's noise (per-thread caches serve small
// allocations without the arena's lock; not measured on a machine with many
// cores, where an operator may prefer hugetlb=1 alone through
// GLIBC_TUNABLES). glibc older than 2.35 ignores hugetlb, and a kernel
// whose transparent huge pages are off ignores the madvise.
const MallocTunables = "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1"

// WithMallocTunables returns env with GLIBC_TUNABLES=MallocTunables added,
// unless env sets GLIBC_TUNABLES already (an operator's choice wins).
func WithMallocTunables(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			return env
		}
	}
	return append(env, "GLIBC_TUNABLES="+MallocTunables)
}
