package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/ovmsgo/ovms/cli/bench"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// The gpu group (issue 16, item 5; opt-in: -only gpu, run by
// scripts/cuda-check.sh on a machine with an NVIDIA GPU) measures ResNet-50
// on -device through one ovms serving it twice: as the file is (batch 1)
// and with a dynamic first dimension and dynamic batching. At gpuClients
// clients, the batched model must answer at least 3 times as many requests
// a second as the unbatched one, and at least 0.95 times as many as the raw
// engine in-process on the same device running batches of the mean size
// ovms formed (from ovms_dynamic_batch_size; as a mix of the two whole
// sizes around it) back to back.
const (
	gpuModel   = "resnet50"
	gpuInput   = "input"
	gpuClients = 16
	// gpuMaxBatch and gpuQueueDelay are the batched model's dynamic_batching.
	gpuMaxBatch   = 16
	gpuQueueDelay = 2000 // microseconds
)

// The two models of the gpu group's config.json.
const (
	gpuPlain   = "resnet50_plain"
	gpuBatched = "resnet50_batched"
)

// gpuConfig writes the gpu group's config.json into dir.
func gpuConfig(dir, modelsDir, device string) (string, error) {
	base, err := filepath.Abs(filepath.Join(modelsDir, gpuModel))
	if err != nil {
		return "", err
	}
	return writeConfig(dir,
		map[string]any{"name": gpuPlain, "base_path": base, "target_device": device},
		map[string]any{"name": gpuBatched, "base_path": base, "target_device": device,
			"shape":            map[string]string{gpuInput: "(-1,3,224,224)"},
			"dynamic_batching": map[string]int{"max_batch_size": gpuMaxBatch, "max_queue_delay_microseconds": gpuQueueDelay}})
}

// gpuGroup measures the gpu group's two targets.
func (s *suite) gpuGroup(g string) {
	dev := s.opt.device
	plain, batched, mean, err := s.gpuOVMS()
	if err != nil { // on the measurements it kept from being taken; one taken stands
		for _, m := range []*measurement{plain, batched} {
			if m.Err == "" && m.Level.Count == 0 {
				m.Err = err.Error()
			}
		}
	}
	s.addTarget(target{Group: g, Name: fmt.Sprintf("%s on %s, %d clients: dynamic batching / unbatched throughput", gpuModel, dev, gpuClients),
		Measured: ratio(batched.Level.Throughput, plain.Level.Throughput), Unit: "x", Limit: 3, AtLeast: true,
		Formula: fmt.Sprintf("3: batched %.1f/s (mean batch %.2f) over unbatched %.1f/s, KServe gRPC", batched.Level.Throughput, mean, plain.Level.Throughput)},
		batched, plain)
	engName := fmt.Sprintf("%s on %s, %d clients: dynamic batching / the engine at ovms's mean batch size", gpuModel, dev, gpuClients)
	if err != nil || mean < 1 {
		s.addTarget(target{Group: g, Name: engName, Unit: "x", Limit: 0.95, AtLeast: true, Err: fmt.Sprintf("no batch sizes from ovms (%v)", err)})
		return
	}
	// The engine runs the two whole batch sizes around the mean (see
	// mixedThroughput).
	lo, hi := int(math.Floor(mean)), int(math.Ceil(mean))
	engLo := s.gpuEngineRun(lo)
	engHi := engLo
	if hi != lo {
		engHi = s.gpuEngineRun(hi)
	}
	eng := mixedThroughput(mean, engLo.Level.Throughput, engHi.Level.Throughput)
	s.addTarget(target{Group: g, Name: engName,
		Measured: ratio(batched.Level.Throughput, eng), Unit: "x", Limit: 0.95, AtLeast: true,
		Formula: fmt.Sprintf("0.95: batched %.1f/s over the engine in-process %.1f images/s (batches of %d at %.1f runs/s and of %d at %.1f runs/s mixed to the mean %.2f)",
			batched.Level.Throughput, eng, lo, engLo.Level.Throughput, hi, engHi.Level.Throughput, mean)}, batched, engLo, engHi)
}

// mixedThroughput is the engine's images a second for batches of mean
// images on average, mean between lo = floor(mean) and lo+1, from the runs
// a second at lo (runsLo) and at lo+1 (runsHi): batches of the two sizes in
// the proportion that gives the mean (a share f = mean-lo of size lo+1)
// take (1-f)/runsLo + f/runsHi seconds a batch for mean images. 0 when a
// rate is missing.
func mixedThroughput(mean, runsLo, runsHi float64) float64 {
	f := mean - math.Floor(mean)
	if runsLo <= 0 || (f > 0 && runsHi <= 0) {
		return 0
	}
	t := (1 - f) / runsLo
	if f > 0 {
		t += f / runsHi
	}
	return mean / t
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// gpuOVMS starts one ovms with the gpu group's config and measures both
// models at gpuClients clients over KServe gRPC; mean is the mean size of
// the batches ovms formed while the batched model was measured.
func (s *suite) gpuOVMS() (plain, batched *measurement, mean float64, err error) {
	names := [2]string{
		fmt.Sprintf("ovms %s on %s kserve-grpc, unbatched", gpuModel, s.opt.device),
		fmt.Sprintf("ovms %s on %s kserve-grpc +dynamic batching (max %d, %d us)", gpuModel, s.opt.device, gpuMaxBatch, gpuQueueDelay),
	}
	plain, batched = &measurement{Name: names[0]}, &measurement{Name: names[1]}
	defer func() {
		for _, m := range []*measurement{plain, batched} {
			if _, ok := s.measured[m.Name]; !ok {
				s.measured[m.Name] = m
				s.order = append(s.order, m)
			}
		}
	}()
	srv, stop, err := s.serveConfig("ovms-bench-gpu-", func(dir string) (string, error) { return gpuConfig(dir, s.opt.modelsDir, s.opt.device) },
		"--metrics_enable", "--metrics_list", "ovms_dynamic_batch_size")
	if err != nil {
		return plain, batched, 0, err
	}
	defer stop()
	run := func(model string) func() (*bench.Report, error) {
		return func() (*bench.Report, error) {
			cfg := s.load
			cfg.Protocol, cfg.URL, cfg.Model, cfg.Concurrency = bench.KServeGRPC, srv.grpcAddr, model, []int{gpuClients}
			return bench.Run(s.ctx, cfg)
		}
	}
	plain = s.measure(names[0], run(gpuPlain))
	sum0, n0, err := histogram(s.ctx, srv.restURL, "ovms_dynamic_batch_size", gpuBatched)
	if err != nil {
		return plain, batched, 0, err
	}
	batched = s.measure(names[1], run(gpuBatched))
	sum1, n1, err := histogram(s.ctx, srv.restURL, "ovms_dynamic_batch_size", gpuBatched)
	if err != nil {
		return plain, batched, 0, err
	}
	if n1 <= n0 {
		return plain, batched, 0, fmt.Errorf("ovms formed no batch of %s", gpuBatched)
	}
	return plain, batched, (sum1 - sum0) / (n1 - n0), nil
}

// gpuEngineRun measures the raw engine on s.opt.device running batches of
// batch images of the gpu group's model (its first dimension made dynamic,
// as ovms serves the batched model) back to back, one caller, outputs
// allocated by the engine as they are for a dynamic output; the level's
// throughput is runs a second.
func (s *suite) gpuEngineRun(batch int) *measurement {
	return s.measure(fmt.Sprintf("engine %s on %s, batches of %d (runs/s)", gpuModel, s.opt.device, batch), func() (*bench.Report, error) {
		data, err := os.ReadFile(filepath.Join(s.opt.modelsDir, gpuModel, "1", "model.onnx"))
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		data, err = onnxmodel.ApplyReshape(data, onnxmodel.Reshape{Shapes: map[string][]int64{gpuInput: {-1, 3, 224, 224}}})
		if err != nil {
			return nil, fmt.Errorf("engine: %s: %w", gpuModel, err)
		}
		opts := ort.SessionOptions{IntraOpThreads: engineThreads(), CUDA: s.opt.device == "CUDA"}
		e, err := newEngineFrom(gpuModel, data, opts, int64(batch))
		if err != nil {
			return nil, err
		}
		defer e.close()
		cfg := s.load
		cfg.Concurrency = []int{1}
		return bench.Measure(s.ctx, cfg, e.doer)
	})
}
