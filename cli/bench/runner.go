package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"
)

// Doer sends one prepared request and waits for its answer. Do is called
// from one worker goroutine at a time per Doer returned by a DoerFactory,
// but a factory may return the same Doer to several workers, in which case
// it must be safe for concurrent use.
type Doer interface {
	Do(ctx context.Context) error
}

// DoerFunc adapts a function to Doer.
type DoerFunc func(ctx context.Context) error

// Do calls f.
func (f DoerFunc) Do(ctx context.Context) error { return f(ctx) }

// DoerFactory returns the Doer of worker number worker (0-based) of a
// level. Doers that implement io.Closer are closed after their level.
type DoerFactory func(worker int) (Doer, error)

// recorder gathers one worker's samples until the next window boundary.
type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors int64
}

func (r *recorder) add(d time.Duration, err error, first *firstError) {
	r.mu.Lock()
	if err != nil {
		r.errors++
	} else {
		r.lat = append(r.lat, d)
	}
	r.mu.Unlock()
	if err != nil {
		first.set(err)
	}
}

// take hands over the samples gathered so far.
func (r *recorder) take() ([]time.Duration, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat, errs := r.lat, r.errors
	r.lat, r.errors = make([]time.Duration, 0, cap(lat)), 0
	return lat, errs
}

// firstError keeps the first error of a level.
type firstError struct {
	mu  sync.Mutex
	msg string
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.msg == "" {
		f.msg = err.Error()
	}
	f.mu.Unlock()
}

// Measure runs cfg's levels (concurrency, or request rates when set) with
// Doers from newDoer and returns their figures. Only the load and
// measurement fields of cfg are used. When ctx ends, the levels finished so
// far are returned with ctx's error.
func Measure(ctx context.Context, cfg Config, newDoer DoerFactory) (*Report, error) {
	cfg, err := cfg.loadDefaults()
	if err != nil {
		return nil, err
	}
	rep := &Report{Mode: "concurrency", Warmup: cfg.Warmup, Window: cfg.Window, Stability: cfg.Stability}
	levels := make([]Level, 0, len(cfg.Concurrency)+len(cfg.RequestRates))
	for _, c := range cfg.Concurrency {
		levels = append(levels, Level{Concurrency: c})
	}
	if len(cfg.RequestRates) > 0 {
		rep.Mode, rep.Schedule, levels = "request_rate", cfg.Schedule, levels[:0]
		for _, r := range cfg.RequestRates {
			levels = append(levels, Level{Concurrency: cfg.MaxThreads, RequestRate: r})
		}
	}
	p := startProgress(cfg.Progress)
	defer p.stop()
	for i, l := range levels {
		warmup := time.Duration(0)
		if i == 0 && cfg.Warmup > 0 {
			warmup = cfg.Warmup
		}
		done, err := runLevel(ctx, cfg, l, warmup, newDoer, p)
		if err != nil {
			return rep, err
		}
		rep.Levels = append(rep.Levels, done)
	}
	return rep, nil
}

// runLevel runs one level: workers, warm-up, then windows until stable or
// MaxTrials.
func runLevel(ctx context.Context, cfg Config, l Level, warmup time.Duration, newDoer DoerFactory, p *progress) (Level, error) {
	label := l.label()
	doers := make([]Doer, l.Concurrency)
	for w := range doers {
		d, err := newDoer(w)
		if err != nil {
			return l, fmt.Errorf("worker %d: %w", w, err)
		}
		doers[w] = d
		if c, ok := d.(io.Closer); ok {
			defer c.Close()
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	recs := make([]*recorder, len(doers))
	var first firstError
	var wg sync.WaitGroup
	var jobs chan time.Time
	if l.RequestRate > 0 {
		jobs = make(chan time.Time, 4096)
		wg.Go(func() { dispatch(lctx, jobs, NewRateSchedule(l.RequestRate, cfg.Schedule, cfg.Seed)) })
	}
	for w, d := range doers {
		recs[w] = &recorder{lat: make([]time.Duration, 0, 1024)}
		wg.Go(func() { work(lctx, d, recs[w], &first, jobs) })
	}
	defer func() { cancel(); wg.Wait() }()

	collect := func() Window {
		var w Window
		for _, r := range recs {
			lat, errs := r.take()
			w.Latencies = append(w.Latencies, lat...)
			w.Errors += errs
		}
		return w
	}
	sleep := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if warmup > 0 {
		p.set(label + ": warm-up")
		if err := sleep(warmup); err != nil {
			return l, err
		}
	}
	collect()
	var windows []Window
	var sums []Summary
	last := time.Now()
	for trial := 1; trial <= cfg.MaxTrials; trial++ {
		if err := sleep(cfg.Window); err != nil {
			return l, err
		}
		w := collect()
		now := time.Now()
		w.Duration, last = now.Sub(last), now
		windows = append(windows, w)
		s := w.Summary() // sorts the window's samples in place; Merge does not mind
		sums = append(sums, s)
		p.set(fmt.Sprintf("%s: window %d/%d, %.1f infer/s, p50 %s", label, trial, cfg.MaxTrials, s.Throughput, fmtDuration(s.P50)))
		if Stable(sums, cfg.Stability) {
			break
		}
	}
	m := Merge(windows[max(0, len(windows)-StableWindows):]).Summary()
	l.Throughput, l.P50, l.P90, l.P99, l.Max, l.Mean = m.Throughput, m.P50, m.P90, m.P99, m.Max, m.Mean
	l.Count, l.Errors, l.Stable, l.Windows = m.Count, m.Errors, Stable(sums, cfg.Stability), len(windows)
	first.mu.Lock()
	l.FirstError = first.msg
	first.mu.Unlock()
	return l, nil
}

// work is one worker: a closed loop, or with jobs an open-loop sender
// whose latency counts from each job's scheduled time. A request cut short
// by the level's end is not recorded.
func work(ctx context.Context, d Doer, rec *recorder, first *firstError, jobs <-chan time.Time) {
	if jobs == nil {
		for ctx.Err() == nil {
			start := time.Now()
			err := d.Do(ctx)
			if ctx.Err() != nil {
				return
			}
			rec.add(time.Since(start), err, first)
		}
		return
	}
	for at := range jobs {
		if ctx.Err() != nil {
			return
		}
		err := d.Do(ctx)
		if ctx.Err() != nil {
			return
		}
		rec.add(time.Since(at), err, first)
	}
}

// spinMargin is how long before a send time the dispatcher stops sleeping
// and spins: a sleeping thread wakes up to ~50us late even with a 1us
// timer slack, and the Go timer of an idle process up to 1ms late.
const spinMargin = 60 * time.Microsecond

// maxSleep bounds one sleep of the dispatcher, so it notices ctx's end.
const maxSleep = 10 * time.Millisecond

// dispatch feeds jobs with the schedule's send times until ctx ends. It
// holds its OS thread with a 1us timer slack (OnThreadWithSlack) and sleeps
// with nanosleep(2), then spins the last spinMargin, so sends leave within a
// few microseconds of their time (Go's timers would be up to 1ms late).
func dispatch(ctx context.Context, jobs chan<- time.Time, s *RateSchedule) {
	defer close(jobs)
	OnThreadWithSlack(time.Microsecond, func() { dispatchOnThread(ctx, jobs, s) })
}

// dispatchOnThread is dispatch's loop, on its locked thread.
func dispatchOnThread(ctx context.Context, jobs chan<- time.Time, s *RateSchedule) {
	start := time.Now()
	for {
		at := start.Add(s.Next())
		for {
			d := time.Until(at) - spinMargin
			if d <= 0 {
				break
			}
			ts := syscall.NsecToTimespec(int64(min(d, maxSleep)))
			_ = syscall.Nanosleep(&ts, nil)
			if ctx.Err() != nil {
				return
			}
		}
		for time.Now().Before(at) {
		}
		select {
		case jobs <- at:
		case <-ctx.Done():
			return
		}
	}
}
