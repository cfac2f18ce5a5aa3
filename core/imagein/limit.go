package imagein

import "sync/atomic"

// DefaultMaxBytes is the default bound on the memory one Decode call may
// use: the tensor it returns plus the largest image it decodes (the
// decoder's planes and the BGR image). Images are decoded one at a time
// and dropped once converted, so with Go's default GC pacing a request's
// peak heap stays below about twice this.
const DefaultMaxBytes = 256 << 20

var maxBytes atomic.Int64

// SetMaxBytes sets the bound Decode applies when a Target sets none (n <=
// 0 restores DefaultMaxBytes). The server sets it once from its per-request
// memory limit.
func SetMaxBytes(n int64) {
	if n <= 0 {
		n = 0
	}
	maxBytes.Store(n)
}

// MaxBytes returns the bound Decode applies when a Target sets none.
func MaxBytes() int64 {
	if n := maxBytes.Load(); n > 0 {
		return n
	}
	return DefaultMaxBytes
}

// limit is the bound of one call.
func (t Target) limit() int64 {
	if t.MaxBytes > 0 {
		return t.MaxBytes
	}
	return MaxBytes()
}

// mul multiplies non-negative values, saturating at the largest int64.
func mul(vs ...int64) int64 {
	const maxInt64 = 1<<63 - 1
	p := int64(1)
	for _, v := range vs {
		if v <= 0 {
			return 0
		}
		if p > maxInt64/v {
			return maxInt64
		}
		p *= v
	}
	return p
}
