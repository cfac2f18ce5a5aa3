package rest

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Large request bodies (and what they were decoded into) leave the Go
// heap holding free memory that the runtime gives back to the system only
// slowly. Once large requests stop arriving for reclaimQuiet, the memory
// is returned at once (debug.FreeOSMemory), so a burst of large or
// hostile requests does not leave the process large. While they keep
// coming nothing is done: the memory is in use.
const (
	reclaimAfter = 16 << 20 // a body at least this large arms the reclaim
	reclaimQuiet = 2 * time.Second
)

// reclaimer runs one reclaim after the last of a burst of large requests.
type reclaimer struct {
	last  atomic.Int64 // unix nanoseconds of the last large request
	armed atomic.Bool
	free  func() // debug.FreeOSMemory; replaced in tests
}

var reclaim = &reclaimer{free: debug.FreeOSMemory}

// touch records a large request and arms the reclaim.
func (r *reclaimer) touch() {
	r.last.Store(time.Now().UnixNano())
	if r.armed.CompareAndSwap(false, true) {
		go r.wait()
	}
}

func (r *reclaimer) wait() {
	for {
		due := time.Unix(0, r.last.Load()).Add(reclaimQuiet)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
			continue
		}
		r.armed.Store(false)
		// A request that touched between the check and the store found
		// the reclaimer armed: take it back if nobody else did.
		if time.Since(time.Unix(0, r.last.Load())) < reclaimQuiet && r.armed.CompareAndSwap(false, true) {
			continue
		}
		r.free()
		return
	}
}
