// Package profiling writes CPU and allocation profiles of an ovms process
// (the core or a device plugin) for performance work. It is off unless
// OVMS_PROFILE_DIR is set; nothing on the request path depends on it.
//
// With OVMS_PROFILE_DIR=dir, a process calling Start profiles its CPU from
// OVMS_PROFILE_DELAY (default 0) after Start for OVMS_PROFILE_SECONDS
// (default 10 s), then writes dir/<name>-<pid>.cpu.pprof and
// dir/<name>-<pid>.allocs.pprof (allocations over the same window: the
// allocation profile's counters at the end minus those at the start are
// what `go tool pprof -sample_index=alloc_objects -base` compares; both are
// written, the base as <name>-<pid>.allocs0.pprof). Device plugins inherit
// the variables from the core, so one setting profiles both processes.
// With OVMS_PROFILE_TRACE=1 as well, an execution trace of the same window
// is written to dir/<name>-<pid>.trace (`go tool trace`, or its
// -pprof=sched for where goroutines waited for a CPU).
package profiling

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"
)

// Environment variables read by Start.
const (
	EnvDir     = "OVMS_PROFILE_DIR"
	EnvSeconds = "OVMS_PROFILE_SECONDS"
	EnvDelay   = "OVMS_PROFILE_DELAY"
	EnvTrace   = "OVMS_PROFILE_TRACE"
)

// Start begins profiling the process named name when OVMS_PROFILE_DIR is
// set; problems are reported through logf and never stop the process.
func Start(name string, logf func(format string, args ...any)) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return
	}
	window, delay := 10*time.Second, time.Duration(0)
	if d, err := time.ParseDuration(os.Getenv(EnvSeconds) + "s"); err == nil && d > 0 {
		window = d
	}
	if d, err := time.ParseDuration(os.Getenv(EnvDelay)); err == nil && d > 0 {
		delay = d
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%d", name, os.Getpid()))
	go func() {
		if err := run(base, delay, window, os.Getenv(EnvTrace) == "1"); err != nil {
			logf("profiling: %v", err)
		}
	}()
}

func run(base string, delay, window time.Duration, withTrace bool) error {
	time.Sleep(delay)
	if err := write(base+".allocs0.pprof", "allocs"); err != nil {
		return err
	}
	stopTrace := func() {}
	if withTrace {
		var err error
		if stopTrace, err = record(base+".trace", "execution trace", trace.Start, trace.Stop); err != nil {
			return err
		}
		defer stopTrace() // when the CPU profile cannot start
	}
	stopCPU, err := record(base+".cpu.pprof", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return err
	}
	time.Sleep(window)
	stopCPU()
	stopTrace()
	return write(base+".allocs.pprof", "allocs")
}

// record creates path and starts a recording of the process (what) into
// it; the function returned stops the recording and closes the file, once
// however often it is called.
func record(path, what string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", what, err)
	}
	return sync.OnceFunc(func() {
		stop()
		f.Close()
	}), nil
}

func write(path, profile string) error {
	runtime.GC() // settle the allocation counters
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s profile: %w", profile, err)
	}
	defer f.Close()
	if err := pprof.Lookup(profile).WriteTo(f, 0); err != nil {
		return fmt.Errorf("writing %s profile: %w", profile, err)
	}
	return nil
}
