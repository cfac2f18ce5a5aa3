// Package slots is a counting semaphore that hands each freed slot to the
// waiter with the largest weight (the earliest among equals). Model loads
// use it with the model's size as the weight, so that when more loads wait
// than can run at once the largest start first: the longest compiles do
// not end up last, alone on one core, while the others sit idle (the
// longest-processing-time-first rule for the time until all are done).
// A waiter that has waited MaxWait goes ahead of the weights (the earliest
// such first), so that a small load is not passed over for ever by larger
// ones that keep arriving.
package slots

import (
	"container/heap"
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMaxWait is how long a waiter waits before it goes ahead of larger
// ones, unless SetMaxWait changes it.
const DefaultMaxWait = 2 * time.Second

// Semaphore holds n slots; the zero value is not usable, call New.
type Semaphore struct {
	mu      sync.Mutex
	size    int
	free    int
	seq     uint64
	maxWait time.Duration
	now     func() time.Time // time.Now; tests replace it
	waiters waiterHeap       // by weight
	arrival list.List        // the same waiters, by arrival
}

// New returns a Semaphore with n slots (at least 1).
func New(n int) *Semaphore {
	return &Semaphore{size: max(1, n), free: max(1, n), maxWait: DefaultMaxWait, now: time.Now}
}

// SetMaxWait sets how long a waiter waits before it goes ahead of larger
// ones (0: never, the weights alone decide). Call it before Acquire.
func (s *Semaphore) SetMaxWait(d time.Duration) { s.maxWait = d }

// Size is the number of slots.
func (s *Semaphore) Size() int { return s.size }

// InUse is the number of slots held.
func (s *Semaphore) InUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size - s.free
}

type waiter struct {
	weight int64
	seq    uint64
	since  time.Time
	ready  chan struct{} // closed when the slot is handed over
	index  int           // in the heap; -1 once removed
	elem   *list.Element // in arrival
}

// Acquire waits for a slot: at once if one is free and nobody waits, else
// when a slot is freed and it is the waiter that release picks. Call the
// returned func once to give the slot back (later calls do nothing). It
// fails with ctx's error when ctx ends first.
func (s *Semaphore) Acquire(ctx context.Context, weight int64) (func(), error) {
	s.mu.Lock()
	if s.free > 0 && len(s.waiters) == 0 {
		s.free--
		s.mu.Unlock()
		return s.releaser(), nil
	}
	w := &waiter{weight: weight, seq: s.seq, since: s.now(), ready: make(chan struct{})}
	s.seq++
	heap.Push(&s.waiters, w)
	w.elem = s.arrival.PushBack(w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return s.releaser(), nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-w.ready: // handed over meanwhile: pass it on
			s.release()
		default:
			s.remove(w)
		}
		return nil, ctx.Err()
	}
}

// releaser is the func that gives a slot back, once.
func (s *Semaphore) releaser() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.release()
		})
	}
}

// release hands a slot to the next waiter, or frees it; s.mu is held. The
// next waiter is the earliest if it has waited maxWait, else the largest.
func (s *Semaphore) release() {
	if len(s.waiters) == 0 {
		s.free++
		return
	}
	w := s.waiters[0]
	if first := s.arrival.Front().Value.(*waiter); s.maxWait > 0 && s.now().Sub(first.since) >= s.maxWait {
		w = first
	}
	s.remove(w)
	close(w.ready)
}

// remove takes w out of both queues; s.mu is held.
func (s *Semaphore) remove(w *waiter) {
	heap.Remove(&s.waiters, w.index)
	s.arrival.Remove(w.elem)
}

// Waiting is the number of waiters.
func (s *Semaphore) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

// waiterHeap orders waiters by weight, largest first, then by arrival.
type waiterHeap []*waiter

func (h waiterHeap) Len() int { return len(h) }
func (h waiterHeap) Less(i, j int) bool {
	if h[i].weight != h[j].weight {
		return h[i].weight > h[j].weight
	}
	return h[i].seq < h[j].seq
}
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.index = -1
	return w
}
