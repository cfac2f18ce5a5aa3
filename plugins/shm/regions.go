package shm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ClientDir is where POSIX shared-memory objects live on Linux; client
// regions are files here, never anything else.
const ClientDir = "/dev/shm"

// ClientPath validates the key of a client region (the shm_open name,
// with or without its leading '/') and returns its path. Keys naming
// anything outside ClientDir are refused.
func ClientPath(key string) (string, error) {
	k := strings.TrimPrefix(key, "/")
	if k == "" || strings.ContainsRune(k, '/') || k == "." || k == ".." || strings.ContainsRune(k, 0) {
		return "", fmt.Errorf("invalid shared memory key %q", key)
	}
	return filepath.Join(ClientDir, k), nil
}

// ErrRegionChanged marks errors about a client region whose object was
// truncated after registration (errors.Is): the client's doing, answered
// as a bad request naming the region.
var ErrRegionChanged = errors.New("shared memory region changed")

// changed is an error about a changed region; its text is its own.
type changed struct{ msg string }

func (e *changed) Error() string        { return e.msg }
func (e *changed) Is(target error) bool { return target == ErrRegionChanged }

func changedf(format string, args ...any) error { return &changed{fmt.Sprintf(format, args...)} }

// Guard absorbs memory faults in the mappings it watches, so that a client
// truncating its object while the engine reads or writes it fails that
// request instead of killing the process (see package faultguard).
type Guard interface {
	// Watch starts guarding mem. faulted reports whether a fault was
	// absorbed since (the mapping then holds zero pages where the object
	// was cut, for good); stop ends the watch before mem is unmapped.
	Watch(mem []byte) (faulted func() bool, stop func(), err error)
}

// RegionSpec names a client region to map.
type RegionSpec struct {
	// ID is the core's never-reused id of the region.
	ID uint32
	// Name is the client's name of the region, for messages.
	Name string
	// Path is the object's path, in ClientDir.
	Path string
	// Offset and Size delimit the region in the object.
	Offset, Size uint64
	// Dev and Ino identify the object the core validated; a different
	// object at Path is refused. Zero: not checked.
	Dev, Ino uint64
}

// region is one mapped client region.
type region struct {
	name    string
	fd      int    // the object, kept open to check its size at every use
	mem     []byte // the whole mapping, from the page-aligned start
	skip    uint64 // offset of the region within mem
	offset  uint64 // offset of the region within the object
	size    uint64
	refs    atomic.Int64
	faulted func() bool // nil without a guard
	unwatch func()
}

// RegionTable maps client shared-memory regions by id (plugin side). Each
// region is mapped once; lookups take no lock on the request path. Each
// use checks the object's size (fstat on the descriptor the table keeps);
// with a Guard, a truncation racing with the engine is caught too.
type RegionTable struct {
	// Guard, when set before the first Map, watches every mapping.
	Guard Guard

	mu      sync.Mutex
	regions atomic.Pointer[map[uint32]*region] // replaced, never mutated
}

// NewRegionTable returns an empty table.
func NewRegionTable() *RegionTable {
	t := &RegionTable{}
	t.regions.Store(&map[uint32]*region{})
	return t
}

// Map maps a region of a regular file in ClientDir; symlinks, other file
// types and an object other than the one the core registered are refused.
func (t *RegionTable) Map(s RegionSpec) error {
	if s.ID == 0 {
		return fmt.Errorf("region id 0 is the arena")
	}
	if filepath.Dir(s.Path) != ClientDir {
		return fmt.Errorf("region path %s is not under %s", s.Path, ClientDir)
	}
	// O_NONBLOCK: a FIFO put in the file's place must not block us.
	fd, err := unix.Open(s.Path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening region %s: %w", s.Path, err)
	}
	r, err := t.mapFD(fd, s)
	if err != nil {
		unix.Close(fd)
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.regions.Load()
	if _, dup := old[s.ID]; dup {
		r.close()
		return fmt.Errorf("region id %d is already mapped", s.ID)
	}
	next := make(map[uint32]*region, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[s.ID] = r
	t.regions.Store(&next)
	return nil
}

// mapFD checks the object open at fd and maps the region.
func (t *RegionTable) mapFD(fd int, s RegionSpec) (*region, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat of region %s: %w", s.Path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("region %s is not a regular file", s.Path)
	}
	if (s.Dev != 0 || s.Ino != 0) && (st.Dev != s.Dev || st.Ino != s.Ino) {
		return nil, fmt.Errorf("region %s is no longer the object registered as '%s'", s.Path, s.Name)
	}
	if s.Offset > uint64(st.Size) || s.Size > uint64(st.Size)-s.Offset {
		return nil, fmt.Errorf("region %s: [%d, +%d) is not inside the %d-byte file", s.Path, s.Offset, s.Size, st.Size)
	}
	page := uint64(os.Getpagesize())
	start := s.Offset &^ (page - 1)
	length := s.Offset - start + s.Size
	if length == 0 {
		length = 1
	}
	mem, err := unix.Mmap(fd, int64(start), int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping region %s: %w", s.Path, err)
	}
	r := &region{name: s.Name, fd: fd, mem: mem, skip: s.Offset - start, offset: s.Offset, size: s.Size}
	if t.Guard != nil {
		if r.faulted, r.unwatch, err = t.Guard.Watch(mem); err != nil {
			_ = unix.Munmap(mem)
			return nil, fmt.Errorf("guarding region %s: %w", s.Path, err)
		}
	}
	return r, nil
}

// close unmaps the region and closes its object.
func (r *region) close() {
	if r.unwatch != nil {
		r.unwatch()
	}
	_ = unix.Munmap(r.mem)
	_ = unix.Close(r.fd)
}

// Unmap drops a region; it is unmapped once no request holds it.
func (t *RegionTable) Unmap(id uint32) {
	t.mu.Lock()
	old := *t.regions.Load()
	r, ok := old[id]
	if ok {
		next := make(map[uint32]*region, len(old))
		for k, v := range old {
			if k != id {
				next[k] = v
			}
		}
		t.regions.Store(&next)
	}
	t.mu.Unlock()
	if ok {
		for r.refs.Load() > 0 {
			time.Sleep(100 * time.Microsecond)
		}
		r.close()
	}
}

// InBounds checks that region id is mapped and [off, off+n) lies in it,
// without touching the object (the host's references are checked so
// before the device runs; Bytes checks the object when the device uses
// the memory).
func (t *RegionTable) InBounds(id uint32, off, n uint64) error {
	r, ok := (*t.regions.Load())[id]
	if !ok {
		return fmt.Errorf("shared memory region %d is not mapped", id)
	}
	if off > r.size || n > r.size-off {
		return fmt.Errorf("range [%d, +%d) outside the %d-byte region", off, n, r.size)
	}
	return nil
}

// Bytes returns [off, off+n) of a region and a release function to call
// when the bytes are no longer used. Bounds are checked without overflow,
// and the object must still hold the bytes (one fstat): an object
// truncated since registration gets an ErrRegionChanged error naming the
// region.
func (t *RegionTable) Bytes(id uint32, off, n uint64) ([]byte, func(), error) {
	r, ok := (*t.regions.Load())[id]
	if !ok {
		return nil, nil, fmt.Errorf("shared memory region %d is not mapped", id)
	}
	if off > r.size || n > r.size-off {
		return nil, nil, fmt.Errorf("range [%d, +%d) outside the %d-byte region", off, n, r.size)
	}
	r.refs.Add(1)
	if (*t.regions.Load())[id] != r { // unmapped meanwhile: do not touch it
		r.refs.Add(-1)
		return nil, nil, fmt.Errorf("shared memory region %d is not mapped", id)
	}
	if err := r.check(off, n); err != nil {
		r.refs.Add(-1)
		return nil, nil, err
	}
	b := r.mem[r.skip+off : r.skip+off+n : r.skip+off+n]
	return b, func() { r.refs.Add(-1) }, nil
}

// check fails when a fault was absorbed in the region or its object no
// longer holds [off, off+n) of it.
func (r *region) check(off, n uint64) error {
	if err := r.intact(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(r.fd, &st); err != nil {
		return fmt.Errorf("stat of shared memory region '%s': %w", r.name, err)
	}
	if end := r.offset + off + n; uint64(st.Size) < end {
		return changedf("shared memory region '%s' was truncated after registration and no longer holds bytes [%d, %d) of the region",
			r.name, off, off+n)
	}
	return nil
}

// intact fails when the guard absorbed a fault in the region.
func (r *region) intact() error {
	if r.faulted != nil && r.faulted() {
		return changedf("shared memory region '%s' was truncated while a request used it; unregister it and register it again", r.name)
	}
	return nil
}

// Intact reports, after the engine has read or written a region, whether
// the object was truncated under it meanwhile (a fault the Guard
// absorbed). The request must then fail: what the engine read or wrote
// there was not the client's memory.
func (t *RegionTable) Intact(id uint32) error {
	r, ok := (*t.regions.Load())[id]
	if !ok {
		return nil // unmapped: the request that used it has failed already
	}
	return r.intact()
}

// Faulted is the error for a memory fault in a region that Go code caught
// (debug.SetPanicOnFault) where no Guard absorbed it.
func (t *RegionTable) Faulted(id uint32) error {
	name := fmt.Sprint(id)
	if r, ok := (*t.regions.Load())[id]; ok {
		name = r.name
	}
	return changedf("shared memory region '%s' was truncated while a request used it; unregister it and register it again", name)
}
