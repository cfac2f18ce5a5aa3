// Package reclaim returns free memory to the system after bursts of large
// requests. Large request bodies and messages (and what they were decoded
// into) leave the Go heap, and the buffer pools of net/http and gRPC,
// holding memory that the runtime gives back only slowly: minutes, or
// never while the server is idle. Once large requests stop arriving for
// Quiet, the memory is returned at once, so that a burst of large or
// hostile requests does not leave the process large. While they keep
// coming nothing is done: the memory is in use.
package reclaim

import (
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"
)

const (
	// Large is the request size, in bytes, from which a request arms the
	// reclaim.
	Large = 16 << 20
	// Quiet is how long no large request must arrive before the reclaim.
	Quiet = 2 * time.Second
)

// Reclaimer runs one reclaim after the last of a burst of large requests.
// The zero value is not usable; use New.
type Reclaimer struct {
	last  atomic.Int64 // unix nanoseconds of the last large request
	armed atomic.Bool
	free  func()
}

// New returns a reclaimer that calls free once large requests stop.
func New(free func()) *Reclaimer { return &Reclaimer{free: free} }

// process is the reclaimer of the process.
var process = New(func() {
	runtime.GC() // a second collection frees what sync.Pools kept through the first
	debug.FreeOSMemory()
})

// After records a request of n bytes; a large one arms the reclaim of the
// process.
func After(n int) {
	if n >= Large {
		process.Touch()
	}
}

// Touch records a large request and arms the reclaim.
func (r *Reclaimer) Touch() {
	r.last.Store(time.Now().UnixNano())
	if r.armed.CompareAndSwap(false, true) {
		go r.wait()
	}
}

func (r *Reclaimer) wait() {
	for {
		due := time.Unix(0, r.last.Load()).Add(Quiet)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
			continue
		}
		r.armed.Store(false)
		// A request that touched between the check and the store found
		// the reclaimer armed: take it back if nobody else did.
		if time.Since(time.Unix(0, r.last.Load())) < Quiet && r.armed.CompareAndSwap(false, true) {
			continue
		}
		r.free()
		return
	}
}
