package faultguard

import (
	"os"
	"runtime/debug"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// truncatedMapping maps two pages of a memfd shared, then cuts the file to
// nothing: every access to the mapping now raises SIGBUS.
func truncatedMapping(t *testing.T) []byte {
	t.Helper()
	fd, err := unix.MemfdCreate("faultguard-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	n := 2 * os.Getpagesize()
	if err := unix.Ftruncate(fd, int64(n)); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	mem[0] = 7
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Ftruncate(fd, 0); err != nil {
		t.Fatal(err)
	}
	return mem
}

// sink makes reads real loads.
var sink byte

func guard(t *testing.T) *Guard {
	t.Helper()
	g, err := Install()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Faults in Go code, in C code on a Go thread and in C code on a thread Go
// never saw (as ONNX Runtime's) are absorbed and reported.
func TestFaultsInWatchedMappingsAreAbsorbed(t *testing.T) {
	g := guard(t)
	cases := map[string]func(mem []byte){
		"go read":          func(mem []byte) { sink = mem[os.Getpagesize()+1] },
		"go write":         func(mem []byte) { mem[3] = 1 },
		"c on a go thread": func(mem []byte) { touch(unsafe.Pointer(&mem[5])) },
		"c on a c thread": func(mem []byte) {
			if err := touchThread(unsafe.Pointer(&mem[os.Getpagesize()])); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, access := range cases {
		t.Run(name, func(t *testing.T) {
			mem := truncatedMapping(t)
			faulted, stop, err := g.Watch(mem)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if faulted() {
				t.Fatal("faulted before any access")
			}
			access(mem)
			if !faulted() {
				t.Fatal("the fault was not reported")
			}
			// The mapping reads zeros from then on, without faulting.
			if mem[0] != 0 && mem[0] != 1 {
				t.Fatalf("byte 0 after the fault = %d", mem[0])
			}
		})
	}
}

// A fault outside every watch still reaches Go's handler: with
// SetPanicOnFault it is a recoverable panic, as without the guard.
func TestOtherFaultsReachGo(t *testing.T) {
	guard(t)
	mem := truncatedMapping(t)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		sink = mem[0]
		return false
	}()
	if !panicked {
		t.Fatal("reading a truncated, unwatched mapping did not panic")
	}
}

// A stopped watch no longer absorbs faults in its range, and slots are
// reused.
func TestStopEndsTheWatch(t *testing.T) {
	g := guard(t)
	for range 2 * 4096 { // more than the slots: each stop frees one
		_, stop, err := g.Watch(make([]byte, 1))
		if err != nil {
			t.Fatal(err)
		}
		stop()
	}
	mem := truncatedMapping(t)
	faulted, stop, _ := g.Watch(mem)
	stop()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		sink = mem[0]
		return false
	}()
	if !panicked || faulted() {
		t.Fatalf("after stop: panicked %v, faulted %v", panicked, faulted())
	}
}
