package shm

import (
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

// region is one mapped client region.
type region struct {
	mem  []byte // the whole mapping, from the page-aligned start
	skip uint64 // offset of the region within mem
	size uint64
	refs atomic.Int64
}

// RegionTable maps client shared-memory regions by id (plugin side). Each
// region is mapped once; lookups take no lock on the request path.
type RegionTable struct {
	mu      sync.Mutex
	regions atomic.Pointer[map[uint32]*region] // replaced, never mutated
}

// NewRegionTable returns an empty table.
func NewRegionTable() *RegionTable {
	t := &RegionTable{}
	t.regions.Store(&map[uint32]*region{})
	return t
}

// Map maps [offset, offset+size) of the file at path under id.
func (t *RegionTable) Map(id uint32, path string, offset, size uint64) error {
	if id == 0 {
		return fmt.Errorf("region id 0 is the arena")
	}
	if filepath.Dir(path) != ClientDir {
		return fmt.Errorf("region path %s is not under %s", path, ClientDir)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening region %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat of region %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || offset > uint64(st.Size) || size > uint64(st.Size)-offset {
		return fmt.Errorf("region %s: [%d, +%d) is not inside the %d-byte file", path, offset, size, st.Size)
	}
	page := uint64(os.Getpagesize())
	start := offset &^ (page - 1)
	length := offset - start + size
	if length == 0 {
		length = 1
	}
	mem, err := unix.Mmap(fd, int64(start), int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping region %s: %w", path, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.regions.Load()
	if _, dup := old[id]; dup {
		_ = unix.Munmap(mem)
		return fmt.Errorf("region id %d is already mapped", id)
	}
	next := make(map[uint32]*region, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[id] = &region{mem: mem, skip: offset - start, size: size}
	t.regions.Store(&next)
	return nil
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
		_ = unix.Munmap(r.mem)
	}
}

// Bytes returns [off, off+n) of a region and a release function to call
// when the bytes are no longer used. Bounds are checked without overflow.
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
	b := r.mem[r.skip+off : r.skip+off+n : r.skip+off+n]
	return b, func() { r.refs.Add(-1) }, nil
}
