package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/cli/bench"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
)

// pluginRoundTrips measures the crossing to the CPU plugin on its own:
// the suite hosts bin/ovms-device-cpu as ovms's core does
// (core/pluginhost: arena, data-plane channel), loads model, writes its
// FP32 inputs into the arena once and calls Infer then Release, one
// client, as the core does per request. Its p50 is what the plugin hop
// and the engine cost a request, without the API, validation and the
// client's network round trip. With gaps > 0 it is measured a second time
// with an idle gap of that length before each call, as behind a server
// (where the plugin and the core wait for the client's next request between
// calls, and their threads go to sleep), into the second report.
func pluginRoundTrips(ctx context.Context, cfg bench.Config, binDir, modelsDir, model string, gap time.Duration) (_, _ *bench.Report, err error) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	h := pluginhost.New(pluginhost.Config{Dirs: []string{binDir}, Logger: logrus.NewEntry(l)})
	defer h.Close()
	inst, err := startWithServerSlack(func() (*pluginhost.Instance, error) { return h.Get(ctx, "cpu") })
	if err != nil {
		return nil, nil, fmt.Errorf("plugin round trip: %w", err)
	}
	key := device.ModelKey{Name: model, Version: 1}
	info, err := inst.Device.Load(ctx, &device.LoadRequest{Model: key, Path: filepath.Join(modelsDir, model, "1"), TargetDevice: "CPU"})
	if err != nil {
		return nil, nil, fmt.Errorf("plugin round trip: loading %s: %w", model, err)
	}
	var refs []device.TensorRef
	for _, in := range info.Inputs {
		if in.DType != device.Float32 {
			return nil, nil, fmt.Errorf("plugin round trip: input %s is not FP32", in.Name)
		}
		shape, n := make([]int64, len(in.Shape)), uint64(4)
		for i, d := range in.Shape {
			shape[i] = max(d, 1)
			n *= uint64(shape[i])
		}
		off, err := inst.Arena.HostZone().Alloc(n)
		if err != nil {
			return nil, nil, fmt.Errorf("plugin round trip: %w", err)
		}
		refs = append(refs, device.TensorRef{Name: in.Name, DType: in.DType, Shape: shape, Offset: off, Length: n})
	}
	req := &device.InferRequest{Model: key, Inputs: refs}
	do := bench.DoerFunc(func(ctx context.Context) error {
		resp, err := inst.Device.Infer(ctx, req)
		if err != nil {
			return err
		}
		return inst.Device.Release(ctx, resp.Lease)
	})
	cfg.Concurrency = []int{1}
	back, err := bench.Measure(ctx, cfg, func(int) (bench.Doer, error) { return do, nil })
	if err != nil || gap <= 0 {
		return back, nil, err
	}
	var lat []time.Duration
	start, window := time.Now(), 3*cfg.Window
	// The gap is slept with nanosleep(2) on this thread at a 1us timer
	// slack and its last 60us spun (Go's timers can be 1 ms late), so
	// that it is the gap asked for: under the plugin's polling time.
	bench.OnThreadWithSlack(time.Microsecond, func() {
		for time.Since(start) < window && ctx.Err() == nil && err == nil {
			at := time.Now().Add(gap)
			if d := gap - 60*time.Microsecond; d > 0 {
				ts := syscall.NsecToTimespec(int64(d))
				_ = syscall.Nanosleep(&ts, nil)
			}
			for time.Now().Before(at) {
			}
			t := time.Now()
			if err = do(ctx); err == nil {
				lat = append(lat, time.Since(t))
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	s := bench.Summarize(lat, 0, time.Since(start))
	s.Throughput = 0 // not a throughput: the gaps are most of the time
	return back, &bench.Report{Model: model, Mode: "concurrency", Levels: []bench.Level{{
		Concurrency: 1, Throughput: s.Throughput, P50: s.P50, P90: s.P90, P99: s.P99, Max: s.Max, Mean: s.Mean,
		Count: s.Count, Stable: true, Windows: 1,
	}}}, nil
}

// serverTimerSlack is the timer slack ovms runs with, and its plugins
// inherit: internal/timerslack.Default, which the suite does not link (its
// constructor would change the slack of the suite's own baselines).
const serverTimerSlack = time.Millisecond

// startWithServerSlack runs start (which forks a plugin) on a thread whose
// timer slack is ovms's, so that the plugin runs with the slack it has
// under ovms (a child process inherits the slack of the thread that forked
// it); the thread's own slack is restored after.
func startWithServerSlack[T any](start func() (T, error)) (v T, err error) {
	bench.OnThreadWithSlack(serverTimerSlack, func() { v, err = start() })
	return v, err
}
