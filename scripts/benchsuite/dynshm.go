package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// The bandwidth group's two servings of addOne in one ovms (see
// dynamicOutputConfig): as the file is, and with a dynamic first dimension.
const (
	addOneStatic  = "add_one_static"
	addOneDynamic = "add_one_dynamic"
)

// dynamicOutputRun measures 12 MiB requests through client shared memory,
// 1 client over KServe gRPC, to addOne served twice by one ovms: as the file
// is (every shape static) and reshaped to a dynamic first dimension (OVMS's
// shape "(-1,3,1024,1024)"), whose output's shape the plugin knows only from
// the request's. The client alternates between the two in blocks of
// requests (blockPairs, each model first in every other pair), so that both
// see the same processes and load. It returns the two measurements
// (dynamic, static) and the block pairs' ratios (dynamic / static, sorted).
func (s *suite) dynamicOutputRun() (dynamic, static *measurement, ratios []float64) {
	names := [2]string{
		"ovms " + addOne + " kserve-grpc +client shm, dynamic first dimension, alternating",
		"ovms " + addOne + " kserve-grpc +client shm, static shape, alternating",
	}
	ms, ratios := s.measurePair(names, s.interleavedShm)
	return ms[0], ms[1], ratios
}

// measurePair runs f once for two measurements taken together (f returns
// their levels and the block pairs' ratios, or an error for both), records
// them, and returns them with the ratios; later calls with the same names
// return what the first one measured.
func (s *suite) measurePair(names [2]string, f func() ([2]bench.Level, []float64, error)) ([2]*measurement, []float64) {
	if m, ok := s.measured[names[0]]; ok {
		return [2]*measurement{m, s.measured[names[1]]}, s.pairRatios[names[0]]
	}
	fmt.Fprintf(s.log, "measuring %s and %s, interleaved\n", names[0], names[1])
	levels, ratios, err := f()
	if s.pairRatios == nil {
		s.pairRatios = map[string][]float64{}
	}
	s.pairRatios[names[0]] = ratios
	ms := [2]*measurement{{Name: names[0]}, {Name: names[1]}}
	for i, m := range ms {
		if err != nil {
			m.Err = err.Error()
		} else {
			m.Level = levels[i]
		}
		s.measured[m.Name] = m
		s.order = append(s.order, m)
	}
	return ms, ratios
}

// interleavedShm runs dynamicOutputRun's two streams and summarizes them.
func (s *suite) interleavedShm() ([2]bench.Level, []float64, error) {
	var out [2]bench.Level
	srv, stop, err := s.serveConfig("ovms-bench-dynshm-", func(dir string) (string, error) { return dynamicOutputConfig(dir, s.opt.modelsDir) },
		"--allow_client_shm")
	if err != nil {
		return out, nil, err
	}
	defer stop()
	var steps [2]func(context.Context) error
	for i, model := range []string{addOneDynamic, addOneStatic} {
		c := s.load
		c.Protocol, c.URL, c.Model, c.Concurrency, c.SharedMemory = bench.KServeGRPC, srv.grpcAddr, model, []int{1}, bench.SharedMemorySystem
		t, err := bench.Open(s.ctx, c)
		if err != nil {
			return out, nil, fmt.Errorf("%s: %w", model, err)
		}
		defer t.Close()
		d, err := t.Doer(0)
		if err != nil {
			return out, nil, err
		}
		steps[i] = d.Do
	}
	warmup, window := s.load.Warmup, s.load.Window*time.Duration(max(1, s.load.MaxTrials/2))
	const block, settle = 20, 2
	r := blockPairs(s.ctx, steps, block, settle, warmup, window, true)
	if err := s.ctx.Err(); err != nil {
		return out, nil, err
	}
	return r.levels(window)
}

// dynamicOutputConfig writes the config.json of dynamicOutputRun into dir.
func dynamicOutputConfig(dir, modelsDir string) (string, error) {
	base, err := filepath.Abs(filepath.Join(modelsDir, addOne))
	if err != nil {
		return "", err
	}
	return writeConfig(dir,
		map[string]any{"name": addOneStatic, "base_path": base},
		map[string]any{"name": addOneDynamic, "base_path": base, "shape": "(-1,3,1024,1024)"})
}
