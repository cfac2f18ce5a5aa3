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
	s.SetMaxWait(0) // weights alone, however slow the machine
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
	if most > 3 || most == 0 {
		t.Errorf("at most %d held at once, want 1 to 3", most)
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
	// A slot handed to a waiter whose context ended meanwhile: the waiter
	// sees both when it takes the lock, and passes the slot on. Holding the
	// lock across the cancel and the hand-over makes the order certain;
	// when the waiter's select picked the slot before the cancel, try again.
	for try := 0; ; try++ {
		if try == 50 {
			t.Fatal("the waiter never saw its cancel before the hand-over")
		}
		release, _ := s.Acquire(context.Background(), 0)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			r, err := s.Acquire(ctx, 1)
			if err == nil {
				r()
			}
			errc <- err
		}()
		waitFor(t, s, 1)
		s.mu.Lock()
		cancel()
		time.Sleep(20 * time.Millisecond) // the waiter wakes and waits for the lock
		s.release()                       // our slot, handed over to the one waiter
		s.mu.Unlock()
		err := <-errc
		_ = release // its slot was handed over above, not to be given back twice
		if s.free != 1 || s.Waiting() != 0 {
			t.Fatalf("after a hand-over to a cancelled waiter (err %v): %d free, %d waiting; want 1, 0", err, s.free, s.Waiting())
		}
		if err != nil {
			break // the cancelled waiter passed the slot on
		}
	}
}

// TestMaxWait: a waiter that has waited MaxWait goes ahead of larger ones
// that came later; before that, the weights decide.
func TestMaxWait(t *testing.T) {
	s := New(1)
	var mu sync.Mutex
	now := time.Unix(0, 0)
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	hold, _ := s.Acquire(context.Background(), 0)
	got := make(chan int64, 3)
	wait := func(weight int64) {
		go func() {
			r, err := s.Acquire(context.Background(), weight)
			if err != nil {
				t.Error(err)
				return
			}
			got <- weight
			r()
		}()
	}
	wait(1)
	waitFor(t, s, 1)
	advance(DefaultMaxWait - time.Millisecond)
	wait(100)
	waitFor(t, s, 2)
	// Not yet waited long enough: the larger one.
	s.mu.Lock()
	next := s.waiters[0]
	if f := s.arrival.Front().Value.(*waiter); s.now().Sub(f.since) >= s.maxWait {
		next = f
	}
	s.mu.Unlock()
	if next.weight != 100 {
		t.Fatalf("before MaxWait the next waiter weighs %d, want 100", next.weight)
	}
	advance(time.Millisecond)
	wait(50)
	waitFor(t, s, 3)
	hold() // the small one has waited DefaultMaxWait: it goes first
	first := <-got
	second, third := <-got, <-got
	if first != 1 || second != 100 || third != 50 {
		t.Errorf("served %d, %d, %d; want 1 (waited MaxWait), then 100, 50", first, second, third)
	}
}
