package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

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
// client's network round trip.
func pluginRoundTrips(ctx context.Context, cfg bench.Config, binDir, modelsDir, model string) (*bench.Report, error) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	h := pluginhost.New(pluginhost.Config{Dirs: []string{binDir}, Logger: logrus.NewEntry(l)})
	defer h.Close()
	inst, err := h.Get(ctx, "cpu")
	if err != nil {
		return nil, fmt.Errorf("plugin round trip: %w", err)
	}
	key := device.ModelKey{Name: model, Version: 1}
	info, err := inst.Device.Load(ctx, &device.LoadRequest{Model: key, Path: filepath.Join(modelsDir, model, "1"), TargetDevice: "CPU"})
	if err != nil {
		return nil, fmt.Errorf("plugin round trip: loading %s: %w", model, err)
	}
	var refs []device.TensorRef
	for _, in := range info.Inputs {
		if in.DType != device.Float32 {
			return nil, fmt.Errorf("plugin round trip: input %s is not FP32", in.Name)
		}
		shape, n := make([]int64, len(in.Shape)), uint64(4)
		for i, d := range in.Shape {
			shape[i] = max(d, 1)
			n *= uint64(shape[i])
		}
		off, err := inst.Arena.HostZone().Alloc(n)
		if err != nil {
			return nil, fmt.Errorf("plugin round trip: %w", err)
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
	return bench.Measure(ctx, cfg, func(int) (bench.Doer, error) { return do, nil })
}
