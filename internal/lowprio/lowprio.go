// Package lowprio runs background work of an ovms process (the engine's
// session creation for a model a device plugin loads while it serves
// requests) on an OS thread of lower CPU priority than the threads that
// serve requests, so that on a busy machine the requests get the CPU first
// and the background work takes what is left (docs/performance.md, "Many
// models").
//
// It suits work that runs outside Go (a C++ call through cgo): a thread
// running Go code holds one of the runtime's Ps, and a low-priority thread
// the kernel leaves waiting holds it for that long, stalling the goroutines
// queued on it and the garbage collector's stop-the-world; a thread in a
// cgo call holds none. The core's configuration reload, Go code, was
// measured at a lower priority and is not lowered (docs/performance.md).
//
// On Linux the thread's nice value is raised by Nice (setpriority on the
// thread id); elsewhere, or when the priority cannot be changed, the work
// runs at the normal priority. A thread's nice value cannot be lowered
// again without privilege, so the thread never returns to the Go
// runtime's pool: it ends with the work (a thread start, tens of
// microseconds, per call). The process's main thread, which the runtime
// never ends, is never lowered.
package lowprio

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

// DefaultNice is how much the nice value of background work is raised
// unless EnvNice says otherwise.
const DefaultNice = 10

// EnvNice overrides DefaultNice: 0 turns the lowering off; values are
// clamped to 0-19.
const EnvNice = "OVMS_BACKGROUND_NICE"

// Nice is the increment of the nice value background work runs with, from
// EnvNice or DefaultNice.
var Nice = sync.OnceValue(func() int {
	v, ok := os.LookupEnv(EnvNice)
	if !ok {
		return DefaultNice
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return DefaultNice
	}
	return min(max(n, 0), 19)
})

// Run runs f on a new OS thread whose nice value is raised by Nice (at
// most to 19), waits for it and returns what setting the priority
// reported (nil when it was set or is off). A panic in f is raised again
// in the caller.
func Run(f func()) error {
	nice := Nice()
	if nice == 0 {
		f()
		return nil
	}
	var (
		setErr error
		panicV any
		failed bool
	)
	work := func() {
		setErr = lower(nice)
		defer func() {
			if v := recover(); v != nil {
				panicV, failed = v, true
			}
		}()
		f()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread ends with this goroutine instead of
		// serving other goroutines at the lowered priority.
		runtime.LockOSThread()
		if isMainThread() {
			// The process's main thread is never ended: the runtime parks it
			// for good when a goroutine locked to it exits, and its nice value
			// is the one ps and top show for the process. Hold it (a locked
			// thread runs no other goroutine) while a goroutine on another
			// thread does the work, then give it back unlowered.
			inner := make(chan struct{})
			go func() {
				defer close(inner)
				runtime.LockOSThread() // never unlocked, as above
				work()
			}()
			<-inner
			runtime.UnlockOSThread()
			return
		}
		work()
	}()
	<-done
	if failed {
		panic(panicV)
	}
	if setErr != nil {
		return fmt.Errorf("lowering the priority of background work: %w", setErr)
	}
	return nil
}

// backgroundKey marks a context as background work (Background).
type backgroundKey struct{}

// Background marks ctx as the context of background work: Do runs its
// calls at a lower priority.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

// Do runs f at a lower priority (Run) when ctx is background work, else
// on the calling goroutine.
func Do(ctx context.Context, f func()) error {
	if !IsBackground(ctx) {
		f()
		return nil
	}
	return Run(f)
}

// ThreadNice is the nice value of the calling OS thread (Linux), for tests
// and logs; ok is false where it cannot be read.
func ThreadNice() (nice int, ok bool) { return threadNice() }
