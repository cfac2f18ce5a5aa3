package dataplane

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// SlotBytes is the size of one ring slot: an 8-byte sequence word, an
// 8-byte message id, a 4-byte kind, a 4-byte length and the payload.
const SlotBytes = 512

// SlotPayload is the largest payload a slot carries inline.
const SlotPayload = SlotBytes - 24

// ringHeader holds the ring's shared words, each on its own cache line.
const (
	offHead     = 0   // next ticket to produce
	offTail     = 64  // next ticket to consume
	offSleeping = 128 // 1 while the consumer is (about to be) blocked
	ringHeader  = 192
)

// ErrRingFull is returned when a ring has no free slot.
var ErrRingFull = errors.New("ring full")

// Ring is a bounded multi-producer queue of small messages in shared
// memory (Vyukov's MPMC queue: every slot carries a sequence word, so
// producers in one process and the consumer in another never share a lock).
// One process consumes; any goroutine of the other may produce.
type Ring struct {
	mem   []byte
	slots uint64
	mask  uint64
}

// RingBytes is the memory a ring of n slots needs (n a power of two).
func RingBytes(n int) int { return ringHeader + n*SlotBytes }

// NewRing lays a ring of n slots (a power of two) over mem. When init is
// set the ring is initialised (the creating side does it once).
func NewRing(mem []byte, n int, init bool) (*Ring, error) {
	if n <= 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("ring of %d slots: not a power of two", n)
	}
	if len(mem) < RingBytes(n) {
		return nil, fmt.Errorf("ring of %d slots needs %d bytes, got %d", n, RingBytes(n), len(mem))
	}
	if uintptr(unsafe.Pointer(&mem[0]))%64 != 0 {
		return nil, errors.New("ring memory is not 64-byte aligned")
	}
	r := &Ring{mem: mem[:RingBytes(n)], slots: uint64(n), mask: uint64(n - 1)}
	if init {
		r.word(offHead).Store(0)
		r.word(offTail).Store(0)
		r.word(offSleeping).Store(0)
		for i := uint64(0); i < r.slots; i++ {
			r.seq(i).Store(i)
		}
	}
	return r, nil
}

func (r *Ring) word(off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&r.mem[off]))
}

func (r *Ring) slot(i uint64) []byte {
	off := ringHeader + int(i&r.mask)*SlotBytes
	return r.mem[off : off+SlotBytes : off+SlotBytes]
}

func (r *Ring) seq(i uint64) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&r.slot(i)[0]))
}

// Push enqueues one message: id, kind and a payload of at most SlotPayload
// bytes. It reports whether the consumer may be asleep (the caller then
// rings the consumer's doorbell).
func (r *Ring) Push(id uint64, kind uint32, payload []byte) (wake bool, err error) {
	if len(payload) > SlotPayload {
		return false, fmt.Errorf("ring message of %d bytes exceeds %d", len(payload), SlotPayload)
	}
	head := r.word(offHead)
	for {
		pos := head.Load()
		seq := r.seq(pos).Load()
		switch dif := int64(seq - pos); {
		case dif == 0:
			if !head.CompareAndSwap(pos, pos+1) {
				continue
			}
			s := r.slot(pos)
			le.PutUint64(s[8:], id)
			le.PutUint32(s[16:], kind)
			le.PutUint32(s[20:], uint32(len(payload)))
			copy(s[24:], payload)
			r.seq(pos).Store(pos + 1)
			return r.word(offSleeping).Load() != 0, nil
		case dif < 0:
			return false, ErrRingFull
		}
	}
}

// Pop dequeues one message and calls fn with it; the payload is valid only
// during fn. It reports false when the ring is empty.
func (r *Ring) Pop(fn func(id uint64, kind uint32, payload []byte)) bool {
	tail := r.word(offTail)
	for {
		pos := tail.Load()
		seq := r.seq(pos).Load()
		switch dif := int64(seq - (pos + 1)); {
		case dif == 0:
			if !tail.CompareAndSwap(pos, pos+1) {
				continue
			}
			s := r.slot(pos)
			n := le.Uint32(s[20:])
			if n > SlotPayload { // never written by a well-behaved peer
				n = SlotPayload
			}
			fn(le.Uint64(s[8:]), le.Uint32(s[16:]), s[24:24+n])
			r.seq(pos).Store(pos + r.mask + 1)
			return true
		case dif < 0:
			return false
		}
	}
}

// Empty reports whether no message is ready.
func (r *Ring) Empty() bool {
	pos := r.word(offTail).Load()
	return int64(r.seq(pos).Load()-(pos+1)) < 0
}

// SetSleeping publishes whether the consumer is going to block.
func (r *Ring) SetSleeping(s bool) {
	var v uint64
	if s {
		v = 1
	}
	r.word(offSleeping).Store(v)
}
