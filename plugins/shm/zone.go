package shm

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Align is the alignment of every allocation, in bytes. 64 keeps tensors on
// cache-line boundaries, which SIMD kernels in the engines prefer.
const Align = 64

// ErrFull is returned (wrapped) when a zone has no free span large enough.
var ErrFull = errors.New("shared-memory arena full")

// span is a free byte range [off, off+size) of a zone.
type span struct{ off, size uint64 }

// Zone allocates byte ranges of one arena zone with first-fit and coalescing
// on free. It is safe for concurrent use; the critical sections are a few
// comparisons long.
type Zone struct {
	start, end uint64

	mu    sync.Mutex
	free  []span            // sorted by off, never adjacent
	sizes map[uint64]uint64 // allocated off -> rounded size
	used  uint64
}

// NewZone returns an allocator over [start, end). start must be aligned.
func NewZone(start, end uint64) *Zone {
	z := &Zone{start: start, end: end, sizes: make(map[uint64]uint64)}
	if end > start {
		z.free = []span{{start, end - start}}
	}
	return z
}

// Start is the first offset of the zone.
func (z *Zone) Start() uint64 { return z.start }

// End is the offset just past the zone.
func (z *Zone) End() uint64 { return z.end }

// Contains reports whether [off, off+n) lies inside the zone.
func (z *Zone) Contains(off, n uint64) bool {
	return off >= z.start && off <= z.end && n <= z.end-off
}

// Alloc reserves n bytes (rounded up to Align; n = 0 reserves Align bytes so
// every allocation has a distinct offset) and returns the offset.
func (z *Zone) Alloc(n uint64) (uint64, error) {
	size := roundUp(n)
	if size < n { // overflow
		return 0, fmt.Errorf("allocating %d bytes: %w", n, ErrFull)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for i, s := range z.free {
		if s.size < size {
			continue
		}
		off := s.off
		if s.size == size {
			z.free = append(z.free[:i], z.free[i+1:]...)
		} else {
			z.free[i] = span{s.off + size, s.size - size}
		}
		z.sizes[off] = size
		z.used += size
		return off, nil
	}
	return 0, fmt.Errorf("allocating %d bytes (%d of %d in use): %w", n, z.used, z.end-z.start, ErrFull)
}

// Free returns an allocation made by Alloc. Freeing an unknown offset is an
// error and changes nothing.
func (z *Zone) Free(off uint64) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	size, ok := z.sizes[off]
	if !ok {
		return fmt.Errorf("freeing offset %d: not allocated", off)
	}
	delete(z.sizes, off)
	z.used -= size
	i := sort.Search(len(z.free), func(i int) bool { return z.free[i].off > off })
	// Coalesce with the previous and the next free span where adjacent.
	prevAdj := i > 0 && z.free[i-1].off+z.free[i-1].size == off
	nextAdj := i < len(z.free) && off+size == z.free[i].off
	switch {
	case prevAdj && nextAdj:
		z.free[i-1].size += size + z.free[i].size
		z.free = append(z.free[:i], z.free[i+1:]...)
	case prevAdj:
		z.free[i-1].size += size
	case nextAdj:
		z.free[i] = span{off, size + z.free[i].size}
	default:
		z.free = append(z.free, span{})
		copy(z.free[i+1:], z.free[i:])
		z.free[i] = span{off, size}
	}
	return nil
}

// Used is the number of bytes currently allocated (after rounding).
func (z *Zone) Used() uint64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.used
}

// Allocations is the number of live allocations.
func (z *Zone) Allocations() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.sizes)
}

// Reset frees every allocation at once (after the other side restarted).
func (z *Zone) Reset() {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.sizes = make(map[uint64]uint64)
	z.used = 0
	z.free = z.free[:0]
	if z.end > z.start {
		z.free = append(z.free, span{z.start, z.end - z.start})
	}
}

func roundUp(n uint64) uint64 {
	if n == 0 {
		return Align
	}
	return (n + Align - 1) &^ (Align - 1)
}
