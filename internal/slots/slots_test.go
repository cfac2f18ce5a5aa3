package slots

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitFor polls until s has n waiters.
func waitFor(t *testing.T, s *Semaphore, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Waiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", s.Waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLargestFirst: with the slot taken, waiters get it largest weight
// first, equals in arrival order. One slot: each waiter records itself
// before it passes the slot on, so the record is the order of hand-over.
func TestLargestFirst(t *testing.T) {
	s := New(1)
	ctx := context.Background()
	r1, _ := s.Acquire(ctx, 1)
	weights := []int64{5, 100, 5, 50, 0}
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for i, w := range weights {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := s.Acquire(ctx, w)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
			release()
		}()
		waitFor(t, s, i+1) // arrival order fixed
	}
	r1()
	wg.Wait()
	if want := []int{1, 3, 0, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("order of waiters served %v, want %v", got, want)
	}
}

// TestBound: never more than n holders at once.
func TestBound(t *testing.T) {
	s := New(3)
	var mu sync.Mutex
	held, most := 0, 0
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := s.Acquire(context.Background(), int64(i%7))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			held++
			most = max(most, held)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			held--
			mu.Unlock()
			release()
			release() // a second call gives nothing back twice
		}()
	}
	wg.Wait()
	if most != 3 {
		t.Errorf("at most %d held at once, want 3", most)
	}
	if s.free != 3 {
		t.Errorf("%d slots free after all released, want 3", s.free)
	}
}

// TestCancel: a waiter whose context ends leaves the queue, and a slot
// handed to it as it gave up is passed on, not lost.
func TestCancel(t *testing.T) {
	s := New(1)
	release, _ := s.Acquire(context.Background(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Acquire(ctx, 10)
		errc <- err
	}()
	waitFor(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	if s.Waiting() != 0 {
		t.Fatalf("%d waiters left after the cancel", s.Waiting())
	}
	release()
	r, err := s.Acquire(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	r()
	for range 200 { // races between the hand-over and the cancel
		release, _ := s.Acquire(context.Background(), 0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if r, err := s.Acquire(ctx, 1); err == nil {
				r()
			}
		}()
		waitFor(t, s, 1)
		go cancel()
		release()
		<-done
		if s.free != 1 || s.Waiting() != 0 {
			t.Fatalf("after a hand-over racing a cancel: %d free, %d waiting; want 1, 0", s.free, s.Waiting())
		}
	}
}
