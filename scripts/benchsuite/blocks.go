package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// blockRun is what blockPairs measured of its two request streams.
type blockRun struct {
	lat    [2][]time.Duration // the counted latencies of each stream
	errs   [2]int64           // its failed requests
	first  [2]string          // its first error
	ratios []float64          // per block pair: median of stream 0 / median of stream 1
}

// blockPairs runs two request streams on one client in alternating blocks
// of block requests each (stream 0's block, then stream 1's; with abba the
// two take turns going first) until warmup+window has passed or ctx ends.
// A request follows one of its own stream, so the work a server does after
// answering is charged to the stream that caused it and each block runs
// hot; the first settle requests of a block, which follow the other
// stream's, are not counted, nor is anything during warmup. Each pair of
// blocks gives one ratio of their median latencies, which load drifting on
// a shared machine does not skew (the stateful and scale groups' targets
// are the median of these ratios).
func blockPairs(ctx context.Context, steps [2]func(context.Context) error, block, settle int, warmup, window time.Duration, abba bool) blockRun {
	var r blockRun
	begin := time.Now()
	for pair := 0; time.Since(begin) < warmup+window && ctx.Err() == nil; pair++ {
		var medians [2]time.Duration
		for k := range 2 {
			i := k
			if abba {
				i = k ^ pair&1
			}
			n := len(r.lat[i])
			for j := range block {
				t0 := time.Now()
				err := steps[i](ctx)
				d := time.Since(t0)
				if time.Since(begin) < warmup || j < settle {
					continue
				}
				if err != nil {
					if r.errs[i]++; r.first[i] == "" {
						r.first[i] = err.Error()
					}
					continue
				}
				r.lat[i] = append(r.lat[i], d)
			}
			if b := slices.Clone(r.lat[i][n:]); len(b) > 0 {
				slices.Sort(b)
				medians[i] = bench.Percentile(b, 50)
			}
		}
		if medians[0] > 0 && medians[1] > 0 {
			r.ratios = append(r.ratios, float64(medians[0])/float64(medians[1]))
		}
	}
	return r
}

// levels summarizes the two streams as bench levels over window and
// returns them with the block pairs' ratios, sorted; an error when no pair
// was measured.
func (r blockRun) levels(window time.Duration) ([2]bench.Level, []float64, error) {
	var out [2]bench.Level
	for i := range out {
		sum := bench.Summarize(r.lat[i], r.errs[i], window)
		out[i] = bench.Level{Concurrency: 1, Throughput: sum.Throughput, P50: sum.P50, P90: sum.P90, P99: sum.P99, Max: sum.Max,
			Mean: sum.Mean, Count: sum.Count, Errors: sum.Errors, FirstError: r.first[i], Stable: true, Windows: 1}
	}
	if len(r.ratios) == 0 {
		return out, nil, fmt.Errorf("no block measured")
	}
	ratios := slices.Clone(r.ratios)
	slices.Sort(ratios)
	return out, ratios, nil
}

// ratioSpread says, for a miss, how much the ratios of alternating block
// pairs (a / b, named by what) varied: their quartiles, and how many were
// above 1. One run's median moves with this spread.
func ratioSpread(what string, ratios []float64) string {
	if len(ratios) == 0 {
		return ""
	}
	r := slices.Clone(ratios)
	slices.Sort(r)
	above := 0
	for _, x := range r {
		if x > 1 {
			above++
		}
	}
	p25, med, p75 := r[len(r)/4], r[len(r)/2], r[len(r)*3/4]
	// The standard error of a median of n samples, the spread taken as
	// normal's (sigma = IQR / 1.349): 1.2533 sigma / sqrt(n).
	se := 1.2533 * (p75 - p25) / 1.349 / math.Sqrt(float64(len(r)))
	return fmt.Sprintf("the %d block pairs' ratios (%s): p25 %.3f, median %.3f, p75 %.3f; above 1 in %d of them (%.0f%%); "+
		"a median of so many pairs so spread is uncertain by about +-%.1f%%",
		len(r), what, p25, med, p75, above, 100*float64(above)/float64(len(r)), 100*se/med)
}
