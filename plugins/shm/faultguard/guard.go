// Package faultguard keeps a device plugin alive when a client truncates a
// shared-memory object that the plugin has mapped (the KServe system
// shared-memory extension): touching a page of a MAP_SHARED mapping past
// the object's new end raises SIGBUS, which would kill the process with
// every model in it, and the engine (ONNX Runtime, in C++, on its own
// threads) reads inputs and writes outputs in place, where Go's
// debug.SetPanicOnFault cannot help.
//
// Install puts a SIGBUS handler in front of Go's. A fault inside a watched
// mapping is absorbed the way Wayland compositors absorb truncated client
// buffers: anonymous zero pages replace the mapping from the faulting page
// to its end (one mmap with MAP_FIXED, async-signal-safe on Linux), the
// watch is marked faulted, and the faulting access is retried against the
// new pages, so the engine finishes its run on zeros. The caller checks
// Faulted once the engine is done and fails the request; the mapping no
// longer shows the client's object past that page, so the region stays
// refused until it is unmapped (the client unregisters and registers it
// again). Any other SIGBUS (and every fault outside watched mappings) goes
// to the handler installed before, Go's, unchanged: Go code keeps its
// panics and SetPanicOnFault keeps working.
package faultguard

/*
#include "guard.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

var (
	once       sync.Once
	installErr error
	mu         sync.Mutex // serialises slot allocation
)

// Guard watches mappings; it implements plugins/shm.Guard.
type Guard struct{}

// Install puts the SIGBUS handler in place (once per process) and returns
// a Guard.
func Install() (*Guard, error) {
	once.Do(func() {
		if rc := C.fg_install(); rc != 0 {
			installErr = errors.New("faultguard: sigaction(SIGBUS) failed")
		}
	})
	if installErr != nil {
		return nil, installErr
	}
	return &Guard{}, nil
}

// Watch guards mem (a whole mapping, page-aligned at its start). faulted
// reports whether a fault in it was absorbed; stop ends the watch and
// must be called before mem is unmapped.
func (*Guard) Watch(mem []byte) (faulted func() bool, stop func(), err error) {
	if len(mem) == 0 {
		return func() bool { return false }, func() {}, nil
	}
	page := uintptr(C.fg_page_size())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	end := (start + uintptr(len(mem)) + page - 1) &^ (page - 1)
	mu.Lock()
	slot := C.fg_watch(C.uintptr_t(start), C.uintptr_t(end))
	mu.Unlock()
	if slot < 0 {
		return nil, nil, fmt.Errorf("faultguard: more than %d mappings watched", C.FG_SLOTS)
	}
	var stopped sync.Once
	return func() bool { return C.fg_faulted(slot) != 0 },
		func() { stopped.Do(func() { C.fg_unwatch(slot) }) }, nil
}

// touch and touchThread increment the byte at p from C code, on the
// calling thread or on a new pthread (as the engine's threads would); for
// tests.
func touch(p unsafe.Pointer) { C.fg_touch(p) }

func touchThread(p unsafe.Pointer) error {
	if C.fg_touch_thread(p) != 0 {
		return errors.New("pthread_create failed")
	}
	return nil
}
