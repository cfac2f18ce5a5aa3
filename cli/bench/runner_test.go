package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// quick is a measurement config for tests: short windows, 3 of them.
func quick() Config {
	return Config{Warmup: 20 * time.Millisecond, Window: 100 * time.Millisecond, MaxTrials: 3, Stability: 1000}
}

type closingDoer struct {
	DoerFunc
	closed *atomic.Int32
}

func (c closingDoer) Close() error { c.closed.Add(1); return nil }

func TestMeasureClosedLoop(t *testing.T) {
	var calls atomic.Int64
	var closed atomic.Int32
	cfg := quick()
	cfg.Concurrency = []int{1, 4}
	rep, err := Measure(context.Background(), cfg, func(int) (Doer, error) {
		return closingDoer{DoerFunc(func(ctx context.Context) error {
			n := calls.Add(1)
			time.Sleep(time.Millisecond)
			if n%10 == 0 {
				return fmt.Errorf("failure %d", n)
			}
			return nil
		}), &closed}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "concurrency" || len(rep.Levels) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, l := range rep.Levels {
		if l.Count == 0 || l.Errors == 0 || l.FirstError == "" || l.Windows != 3 {
			t.Errorf("level %+v", l)
		}
		if l.P50 < time.Millisecond || l.P50 > l.P99 || l.P99 > l.Max || l.Mean < time.Millisecond {
			t.Errorf("level %d latencies %+v", l.Concurrency, l)
		}
		// About one error per ten requests.
		if ratio := float64(l.Errors) / float64(l.Count+l.Errors); math.Abs(ratio-0.1) > 0.03 {
			t.Errorf("level %d: error ratio %.3f", l.Concurrency, ratio)
		}
	}
	if rep.Levels[1].Throughput < 2*rep.Levels[0].Throughput {
		t.Errorf("4 workers gave %.0f/s, 1 worker %.0f/s", rep.Levels[1].Throughput, rep.Levels[0].Throughput)
	}
	if closed.Load() != 5 {
		t.Errorf("%d doers closed, want 5", closed.Load())
	}
	if best := rep.Best(); best != &rep.Levels[1] {
		t.Errorf("best level %+v", best)
	}
}

func TestMeasureStopsWhenStable(t *testing.T) {
	cfg := quick()
	cfg.MaxTrials, cfg.Stability = 10, 50
	rep, err := Measure(context.Background(), cfg, func(int) (Doer, error) {
		return DoerFunc(func(context.Context) error { time.Sleep(500 * time.Microsecond); return nil }), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Levels[0]; !l.Stable || l.Windows >= 10 {
		t.Errorf("a steady doer: stable %v after %d windows", l.Stable, l.Windows)
	}
}

func TestMeasureReportsUnstable(t *testing.T) {
	var window atomic.Int64
	start := time.Now()
	cfg := quick()
	cfg.Warmup, cfg.MaxTrials, cfg.Stability = -1, 4, 5
	rep, err := Measure(context.Background(), cfg, func(int) (Doer, error) {
		return DoerFunc(func(context.Context) error {
			// Each window is twice as slow as the one before.
			w := int64(time.Since(start) / cfg.Window)
			window.Store(w)
			time.Sleep(time.Duration(1<<min(w, 4)) * time.Millisecond)
			return nil
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Levels[0]; l.Stable || l.Windows != 4 {
		t.Errorf("a slowing doer: stable %v after %d windows", l.Stable, l.Windows)
	}
}

func TestMeasureRequestRate(t *testing.T) {
	cfg := quick()
	cfg.RequestRates, cfg.Schedule, cfg.MaxThreads = []float64{400}, Constant, 4
	rep, err := Measure(context.Background(), cfg, func(int) (Doer, error) {
		return DoerFunc(func(context.Context) error { time.Sleep(time.Millisecond); return nil }), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Levels[0]
	if rep.Mode != "request_rate" || l.RequestRate != 400 || l.Concurrency != 4 {
		t.Fatalf("report %+v", rep)
	}
	if math.Abs(l.Throughput-400) > 40 {
		t.Errorf("throughput %.1f/s at a 400/s schedule", l.Throughput)
	}
	// Latency counts from the scheduled time: the 1ms of work and a little
	// dispatch delay.
	if l.P50 < time.Millisecond || l.P50 > 5*time.Millisecond {
		t.Errorf("p50 %v", l.P50)
	}
}

// An overloaded open loop shows its queueing in the latency.
func TestMeasureRequestRateOverload(t *testing.T) {
	cfg := quick()
	cfg.RequestRates, cfg.Schedule, cfg.MaxThreads = []float64{1000}, Constant, 1
	rep, err := Measure(context.Background(), cfg, func(int) (Doer, error) {
		return DoerFunc(func(context.Context) error { time.Sleep(2 * time.Millisecond); return nil }), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Levels[0]; l.Throughput > 600 || l.P99 < 20*time.Millisecond {
		t.Errorf("overloaded: %.0f/s, p99 %v", l.Throughput, l.P99)
	}
}

func TestMeasureCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := quick()
	cfg.Concurrency = []int{1, 2}
	levels := 0
	rep, err := Measure(ctx, cfg, func(w int) (Doer, error) {
		if w == 0 {
			levels++
		}
		if levels == 2 {
			time.AfterFunc(30*time.Millisecond, cancel)
		}
		return DoerFunc(func(ctx context.Context) error {
			select {
			case <-time.After(time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}), nil
	})
	if !errors.Is(err, context.Canceled) || rep == nil || len(rep.Levels) != 1 || rep.Levels[0].Errors != 0 {
		t.Fatalf("cancelled: %v, %+v", err, rep)
	}
}

func TestMeasureFactoryError(t *testing.T) {
	_, err := Measure(context.Background(), quick(), func(int) (Doer, error) { return nil, errors.New("no doer") })
	if err == nil || err.Error() != "worker 0: no doer" {
		t.Errorf("error %v", err)
	}
}

// TestOnThreadWithSlack checks that f runs with the slack asked for and
// that the thread's own slack, not its default, is restored after.
func TestOnThreadWithSlack(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Skipf("PR_GET_TIMERSLACK: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 333000, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_TIMERSLACK: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(own), 0, 0, 0)
	var inside int
	OnThreadWithSlack(7*time.Microsecond, func() { inside, _ = unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0) })
	if inside != 7000 {
		t.Errorf("slack inside f: %d ns, want 7000", inside)
	}
	if after, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); after != 333000 {
		t.Errorf("slack after: %d ns, want the thread's own 333000 restored", after)
	}
}
