package rawcodec

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// Pool is the buffer pool of the ovms gRPC server (grpc's
// experimental.BufferPool option): power-of-two tiers like gRPC's default
// pool, but a buffer handed out again is not cleared first. The server's
// transport takes a buffer from it for every received DATA frame and fills
// it from the socket before anything reads it (and the receive queue's
// compaction fills its buffer by copying), so the clearing bought nothing
// and cost the core a pass over every byte received: about a tenth of its
// CPU on 12 MiB requests (docs/performance.md).
type Pool struct {
	tiers []sync.Pool // tiers[i] holds *[]byte of capacity 1 << (minTierShift + i)
}

// The tiers: 256 B to 1 MiB; larger requests are allocated and dropped.
const (
	minTierShift = 8
	maxTierShift = 20
)

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{tiers: make([]sync.Pool, maxTierShift-minTierShift+1)}
}

var _ mem.BufferPool = (*Pool)(nil)

// tier returns the index of the smallest tier holding size bytes, or -1.
func tier(size int) int {
	if size <= 1<<minTierShift {
		return 0
	}
	shift := bits.Len(uint(size - 1))
	if shift > maxTierShift {
		return -1
	}
	return shift - minTierShift
}

// Get returns a buffer of length size; its contents are unspecified.
func (p *Pool) Get(size int) *[]byte {
	t := tier(size)
	if t < 0 {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<(minTierShift+t))
	return &b
}

// Put returns a buffer Get handed out; any other buffer is dropped.
func (p *Pool) Put(b *[]byte) {
	c := cap(*b)
	t := tier(c)
	if t < 0 || c != 1<<(minTierShift+t) {
		return
	}
	p.tiers[t].Put(b)
}
