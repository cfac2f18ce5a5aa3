// Package gcfloor keeps the Go garbage collector of an ovms process from
// running every few megabytes of allocation while its live heap is small.
//
// Go starts a collection when the heap has grown by GOGC percent (100)
// over what the previous one left live, and at least 4 MiB: ovms's core
// serving 1-client dummy requests has about 2 MiB live and allocates about
// 6.6 KiB a request (gRPC, protos), so it collected every 55 ms, and each
// collection stops the world (0.3-0.9 ms on the 2-vCPU test machine) and
// takes a quarter of the Ps for its mark (docs/performance.md, "Tenth
// session on issue 16"). With a floor, the collector's percentage is set
// after every collection so that the next one starts when the heap reaches
// the floor: about (floor - live) / live, at least Go's default 100 % (a
// live heap over about half the floor is collected as Go always does) and
// at most MaxPercent. A process then holds up to the floor in heap before
// it collects.
//
// The percentage is set by a cleanup (runtime.AddCleanup) that the runtime
// runs after each collection, reading the live heap from runtime/metrics
// (no stop-the-world, as runtime.ReadMemStats would be, which is why
// bytedance/gopkg's gctuner, which reads it on every cycle, is not used).
// Between the end of a collection and that cleanup, Go sets the next goal
// from the new live heap and the previous percentage: MaxPercent bounds
// how far a live heap that grew meanwhile can overshoot, to 5 times that
// heap, for a cycle. GOGC in the environment leaves the collector as the
// user set it; a memory limit (GOMEMLIMIT) still bounds the heap, as Go
// does whatever the percentage.
package gcfloor

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// EnvMinHeap names the environment variable that sets the floor in MiB
// (0: none, Go's own pacing; empty: the default). ovms's device plugins
// inherit it.
const EnvMinHeap = "OVMS_GC_MIN_HEAP_MB"

// DefaultMinHeapMB is the floor without EnvMinHeap: 16 MiB, a collection
// every 0.5 s at the core's allocation rate at 5,000 requests/s.
const DefaultMinHeapMB = 16

// maxMinHeapMB bounds EnvMinHeap (1 TiB); a larger value is refused.
const maxMinHeapMB = 1 << 20

// MaxPercent bounds the percentage the floor sets: the heap between two
// collections is at most 5 times what the first left live, whatever the
// floor. A floor over 16 MiB is so reached only by a live heap of at least
// a fifth of it.
const MaxPercent = 400

// goHeapMinimum is Go's least heap goal at 100 % (defaultHeapMinimum in
// runtime/mgcpacer.go); it scales with the percentage, so a percentage
// over floor / goHeapMinimum * 100 would set a goal above the floor.
const goHeapMinimum = 4 << 20

// minPercent is Go's default percentage, the least the floor sets.
const minPercent = 100

var (
	startOnce sync.Once
	started   atomic.Uint64 // the floor in force, bytes; 0: none
)

// Start sets the floor from the environment, once per process: EnvMinHeap,
// or DefaultMinHeapMB; nothing when GOGC is set. It returns the floor in
// force (0: none) and an error for a value of EnvMinHeap that is not a
// whole number of MiB up to 1 TiB (the default is used then).
func Start() (floor uint64, err error) {
	startOnce.Do(func() {
		if os.Getenv("GOGC") != "" {
			return
		}
		mb := uint64(DefaultMinHeapMB)
		if v := os.Getenv(EnvMinHeap); v != "" {
			n, perr := strconv.ParseUint(v, 10, 64)
			switch {
			case perr != nil:
				err = fmt.Errorf("%s=%q is not a whole number of MiB; using %d: %w", EnvMinHeap, v, DefaultMinHeapMB, perr)
			case n > maxMinHeapMB:
				err = fmt.Errorf("%s=%q is over %d MiB; using %d", EnvMinHeap, v, maxMinHeapMB, DefaultMinHeapMB)
			default:
				mb = n
			}
		}
		if mb == 0 {
			return
		}
		started.Store(mb << 20)
		arm()
	})
	return started.Load(), err
}

// StartLogged is Start for a server process (the core, a device plugin):
// it warns of a bad EnvMinHeap and logs the floor in force at DEBUG
// (gc_min_heap_mb).
func StartLogged(log logrus.FieldLogger) {
	floor, err := Start()
	if err != nil {
		log.WithError(err).Warn("garbage collector heap floor: bad value")
	}
	log.WithField("gc_min_heap_mb", floor>>20).Debug("garbage collector heap floor")
}

// Floor returns the floor in force, bytes (0: none).
func Floor() uint64 { return started.Load() }

// sentinel is the object whose cleanup runs after the collection that
// finds it unreachable; it holds a pointer so that it is not a tiny
// allocation (whose cleanup might wait for the objects sharing its block).
type sentinel struct {
	_ *sentinel
	_ [2]uint64
}

// arm allocates a sentinel whose cleanup, after the next collection, sets
// the percentage and arms another. (A sentinel allocated while a
// collection marks survives it: that cycle keeps the percentage it had.)
func arm() {
	runtime.AddCleanup(&sentinel{}, func(struct{}) {
		tune()
		arm()
	}, struct{}{})
}

var (
	heapSamples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	current     = minPercent  // the percentage last set (tune never runs twice at once: one sentinel at a time)
	tunes       atomic.Uint64 // how many times tune ran (for tests)
)

// tune sets the percentage for the live heap the last collection left.
func tune() {
	defer tunes.Add(1)
	metrics.Read(heapSamples)
	var v [3]uint64
	for i, s := range heapSamples {
		if s.Value.Kind() != metrics.KindUint64 {
			return
		}
		v[i] = s.Value.Uint64()
	}
	p := Percent(v[0], v[0]+v[1]+v[2], started.Load())
	if p != current {
		debug.SetGCPercent(p)
		current = p
	}
}

// Percent is the collector's percentage that makes a heap of live bytes
// collect again when it reaches floor. Go's goal is the larger of live +
// scannable * percent / 100 (scannable: the live heap with the goroutine
// stacks and the globals) and 4 MiB * percent / 100; so the percentage is
// (floor - live) / scannable * 100, at most floor / 4 MiB * 100 and
// MaxPercent, and at least 100.
func Percent(live, scannable, floor uint64) int {
	scannable = max(scannable, live)
	if live == 0 || floor <= live+scannable {
		return minPercent
	}
	p := min((floor-live)*100/scannable, floor*100/goHeapMinimum, MaxPercent)
	return int(max(p, minPercent))
}
