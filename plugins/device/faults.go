package device

import (
	"errors"
	"runtime/debug"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/shm"
)

// Intact reports, once the engine is done with a tensor's memory, whether
// a client region under it was truncated while it was used (see
// shm.RegionTable.Intact); nil for arena memory. A device that reads or
// writes client regions in place must check every such tensor before it
// answers, and fail the request with RegionError if one is not intact.
func (e *Env) Intact(ref TensorRef) error {
	if ref.Region == 0 || e.Regions == nil {
		return nil
	}
	return e.Regions.Intact(ref.Region)
}

// RegionError is the status of a failed use of a tensor's memory (what is
// "input" or "output"): OUT_OF_RANGE when the client changed its region
// (the core answers 400 naming the region), INVALID_ARGUMENT otherwise.
func RegionError(what, name string, err error) error {
	if errors.Is(err, shm.ErrRegionChanged) {
		return status.Errorf(codes.OutOfRange, "%s %s: %v", what, name, err)
	}
	return status.Errorf(codes.InvalidArgument, "%s %q: %v", what, name, err)
}

// GuardFaults runs f, which reads or writes the memory of ref (a client
// region) from Go, and turns a memory fault in it (the client truncated
// its object meanwhile) into an error naming the region and matching
// shm.ErrRegionChanged instead of a crash, with debug.SetPanicOnFault. In
// a plugin served by plugins.ServeDevice the fault guard
// (plugins/shm/faultguard) absorbs such faults first and Intact reports
// them; this is the second line, for Go code.
func (e *Env) GuardFaults(ref TensorRef, f func()) (err error) {
	if ref.Region == 0 {
		f()
		return nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if _, fault := r.(interface{ Addr() uintptr }); fault && e.Regions != nil {
			err = e.Regions.Faulted(ref.Region)
			return
		}
		panic(r)
	}()
	f()
	return nil
}
