// Package clientshm is the server side of the KServe system shared-memory
// extension (as Triton defines it): clients register regions of POSIX
// shared-memory objects under a name and refer to them in tensor
// parameters, so that tensor bytes reach the device plugin without being
// copied. Client regions are only ever files under /dev/shm: they live in
// their own namespace, apart from the memfd arenas between core and plugins,
// which have no name a client could register, and no error message names an
// internal region.
package clientshm

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// Region is one registered client region.
type Region struct {
	// Name is the client's name for the region.
	Name string
	// Key is the shared-memory object's name (shm_open).
	Key string
	// Offset and Size delimit the region in the object.
	Offset, Size uint64

	id      uint32
	path    string
	obj     *object // the object, held open from registration
	refs    atomic.Int64
	mu      sync.Mutex
	mapped  map[*host.Client]bool // plugins that mapped the region
	removed atomic.Bool
}

// Registry holds the registered regions. Lookups on the request path take
// no lock.
type Registry struct {
	mu      sync.Mutex
	regions atomic.Pointer[map[string]*Region] // replaced, never mutated
	nextID  atomic.Uint32
	owners  map[uint32]bool // uids whose objects may be registered
}

// NewRegistry returns an empty registry that accepts objects owned by the
// server's effective uid or by one of allowedUIDs.
func NewRegistry(allowedUIDs ...uint32) *Registry {
	r := &Registry{owners: map[uint32]bool{uint32(os.Geteuid()): true}}
	for _, u := range allowedUIDs {
		r.owners[u] = true
	}
	r.regions.Store(&map[string]*Region{})
	return r
}

// Register adds a region after checking that the key names a regular file
// in /dev/shm (not a symlink) owned by an allowed uid and that it holds
// [offset, offset+size). Every refusal of the object gets one answer,
// Triton's for a key it cannot open, which says nothing about what the key
// names.
func (r *Registry) Register(name, key string, offset, size uint64) error {
	if name == "" {
		return apierr.Newf(apierr.SharedMemoryInvalid, "a region needs a name")
	}
	path, err := shm.ClientPath(key)
	if err != nil {
		return apierr.Newf(apierr.SharedMemoryInvalid, "Unable to open shared memory region: '%s'", key)
	}
	obj, err := openObject(path, r.owners)
	if err != nil {
		// Triton answers a key it cannot open with INTERNAL.
		return apierr.Wrap(apierr.SharedMemoryOpenFailed, err, "Unable to open shared memory region: '%s'", key)
	}
	if offset > obj.size || size > obj.size-offset {
		obj.close()
		return apierr.Newf(apierr.SharedMemoryInvalid, "failed to register shared memory region '%s': offset %d and byte size %d exceed the %d bytes of '%s'", name, offset, size, obj.size, key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.regions.Load()
	if _, dup := old[name]; dup {
		obj.close()
		return apierr.Newf(apierr.SharedMemoryExists, "shared memory region '%s' already in manager", name)
	}
	next := copyMap(old)
	next[name] = &Region{Name: name, Key: key, Offset: offset, Size: size, id: r.nextID.Add(1), path: path, obj: obj, mapped: map[*host.Client]bool{}}
	r.regions.Store(&next)
	return nil
}

func copyMap(m map[string]*Region) map[string]*Region {
	out := make(map[string]*Region, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Unregister removes one region, or all of them when name is empty (an
// unknown name is not an error, as in Triton). A removed region is
// unmapped from the plugins once no request uses it.
func (r *Registry) Unregister(name string) error {
	r.mu.Lock()
	old := *r.regions.Load()
	var gone []*Region
	next := map[string]*Region{}
	if name != "" {
		reg, ok := old[name]
		if !ok {
			r.mu.Unlock()
			return nil // Triton: unregistering an unknown name succeeds
		}
		gone = append(gone, reg)
		next = copyMap(old)
		delete(next, name)
	} else {
		for _, reg := range old {
			gone = append(gone, reg)
		}
	}
	r.regions.Store(&next)
	r.mu.Unlock()
	for _, reg := range gone {
		reg.removed.Store(true)
		go reg.unmapWhenIdle()
	}
	return nil
}

// Status lists one region (name) or all, sorted by name.
func (r *Registry) Status(name string) ([]*Region, error) {
	all := *r.regions.Load()
	if name != "" {
		reg, ok := all[name]
		if !ok {
			return nil, apierr.Newf(apierr.SharedMemoryNotFound, "Unable to find system shared memory region: '%s'", name)
		}
		return []*Region{reg}, nil
	}
	out := make([]*Region, 0, len(all))
	for _, reg := range all {
		out = append(out, reg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Acquire pins a region for one request; the caller must Release it when
// the request's response has been sent.
func (r *Registry) Acquire(name string) (*Region, error) {
	reg, ok := (*r.regions.Load())[name]
	if ok {
		reg.refs.Add(1)
		if !reg.removed.Load() {
			return reg, nil
		}
		reg.refs.Add(-1)
	}
	return nil, apierr.Newf(apierr.SharedMemoryNotFound, "Unable to find shared memory region: '%s'", name)
}

// Release ends a use started by Acquire.
func (reg *Region) Release() { reg.refs.Add(-1) }

// Slice checks that [offset, offset+size) lies in the region (the tensor
// parameters shared_memory_offset and shared_memory_byte_size).
func (reg *Region) Slice(offset, size uint64) error {
	// Triton's GetMemoryInfo messages.
	if offset > reg.Size {
		return apierr.Newf(apierr.SharedMemoryInvalid, "Invalid offset for shared memory region: '%s'", reg.Name)
	}
	if size > reg.Size-offset {
		return apierr.Newf(apierr.SharedMemoryInvalid, "Invalid offset + byte size for shared memory region: '%s'", reg.Name)
	}
	return nil
}

// Holds checks, at each use, that the object still holds [offset,
// offset+size) of the region (one fstat on the descriptor held since
// registration): a client may have truncated it, and the device must not
// touch what is gone. what names the tensor ("input x", "output y").
func (reg *Region) Holds(what string, offset, size uint64) error {
	n, err := reg.obj.currentSize()
	if err != nil {
		return apierr.Wrap(apierr.SharedMemoryInvalid, err, "%s: shared memory region '%s' cannot be read", what, reg.Name)
	}
	if n < reg.Offset+offset+size {
		return apierr.Newf(apierr.SharedMemoryInvalid, "%s: shared memory region '%s' was truncated after registration and no longer holds bytes [%d, %d) of the region",
			what, reg.Name, offset, offset+size)
	}
	return nil
}

// MapOn makes the region usable by a device plugin (mapping it there on
// first use) and returns the id tensors name it by. The plugin maps the
// very object registered (its device and inode are checked).
func (reg *Region) MapOn(ctx context.Context, c *host.Client) (uint32, error) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if !reg.mapped[c] {
		spec := shm.RegionSpec{ID: reg.id, Name: reg.Name, Path: reg.path, Offset: reg.Offset, Size: reg.Size, Dev: reg.obj.dev, Ino: reg.obj.ino}
		if err := c.MapRegion(ctx, spec); err != nil {
			return 0, apierr.Wrap(apierr.SharedMemoryInvalid, err, "shared memory region '%s' cannot be mapped by the device", reg.Name)
		}
		reg.mapped[c] = true
	}
	return reg.id, nil
}

// unmapWhenIdle unmaps a removed region from every plugin once the
// requests using it are done.
func (reg *Region) unmapWhenIdle() {
	for reg.refs.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for c := range reg.mapped {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.UnmapRegion(ctx, reg.id)
		cancel()
	}
	reg.mapped = map[*host.Client]bool{}
	reg.obj.close()
}

// String describes the region for logs.
func (reg *Region) String() string {
	return fmt.Sprintf("%s (key %s, offset %d, %d bytes)", reg.Name, reg.Key, reg.Offset, reg.Size)
}
