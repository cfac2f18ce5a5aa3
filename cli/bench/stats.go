package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of samples sorted
// in ascending order, by the nearest-rank method: the smallest sample such
// that at least p percent of the samples are less than or equal to it, the
// sample of rank ceil(p/100 * n) (1-based). It never interpolates, so every
// figure reported is a latency that was observed; p = 100 is the maximum.
// It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// Summary is the statistics of a set of latency samples gathered over a
// wall-clock duration.
type Summary struct {
	Count      int64         // successful requests
	Errors     int64         // failed requests
	Duration   time.Duration // wall-clock time the samples were gathered in
	Throughput float64       // Count per second of Duration
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration
	Mean       time.Duration
}

// Summarize computes a Summary; it sorts lat in place.
func Summarize(lat []time.Duration, errors int64, d time.Duration) Summary {
	slices.Sort(lat)
	s := Summary{Count: int64(len(lat)), Errors: errors, Duration: d}
	if d > 0 {
		s.Throughput = float64(len(lat)) / d.Seconds()
	}
	if len(lat) == 0 {
		return s
	}
	var sum float64
	for _, l := range lat {
		sum += float64(l)
	}
	s.Mean = time.Duration(sum / float64(len(lat)))
	s.P50, s.P90, s.P99 = Percentile(lat, 50), Percentile(lat, 90), Percentile(lat, 99)
	s.Max = lat[len(lat)-1]
	return s
}

// Window is one measurement window: its samples and how long it lasted.
type Window struct {
	Latencies []time.Duration
	Errors    int64
	Duration  time.Duration
}

// Summary summarizes the window (sorting its samples).
func (w Window) Summary() Summary { return Summarize(w.Latencies, w.Errors, w.Duration) }

// Merge pools windows into one: the samples of all, the sum of errors and
// durations. Throughput over the merged window is the total count over the
// total time, not a mean of rates.
func Merge(ws []Window) Window {
	var out Window
	n := 0
	for _, w := range ws {
		n += len(w.Latencies)
	}
	out.Latencies = make([]time.Duration, 0, n)
	for _, w := range ws {
		out.Latencies = append(out.Latencies, w.Latencies...)
		out.Errors += w.Errors
		out.Duration += w.Duration
	}
	return out
}

// StableWindows is how many consecutive windows must agree.
const StableWindows = 3

// Stable reports whether the last StableWindows summaries agree within
// ±pct percent: each one's throughput and p50 latency lie within pct
// percent of the mean of those windows (perf_analyzer's rule). A window
// without successful requests is never stable.
func Stable(ws []Summary, pct float64) bool {
	if len(ws) < StableWindows {
		return false
	}
	last := ws[len(ws)-StableWindows:]
	var tput, p50 float64
	for _, w := range last {
		if w.Count == 0 {
			return false
		}
		tput += w.Throughput
		p50 += float64(w.P50)
	}
	tput /= StableWindows
	p50 /= StableWindows
	within := func(v, mean float64) bool { return math.Abs(v-mean) <= pct/100*mean }
	for _, w := range last {
		if !within(w.Throughput, tput) || !within(float64(w.P50), p50) {
			return false
		}
	}
	return true
}

// RateSchedule yields the send times of an open loop as offsets from its
// start: request i of a Constant schedule at i/rate, a Poisson schedule's
// gaps drawn independently from an exponential distribution of mean 1/rate
// (seeded, so a run is reproducible). Offsets are absolute, so a sender
// that falls behind catches up instead of drifting.
type RateSchedule struct {
	rate    float64
	poisson bool
	rng     *rand.Rand
	i       int64
	at      float64 // seconds, Poisson only
}

// NewRateSchedule returns a schedule of rate requests per second.
func NewRateSchedule(rate float64, s Schedule, seed int64) *RateSchedule {
	return &RateSchedule{rate: rate, poisson: s == Poisson, rng: rand.New(rand.NewPCG(uint64(seed), 0x5c4ed))}
}

// Next returns the offset of the next send.
func (s *RateSchedule) Next() time.Duration {
	if !s.poisson {
		at := time.Duration(float64(s.i) / s.rate * float64(time.Second))
		s.i++
		return at
	}
	at := s.at
	s.at += s.rng.ExpFloat64() / s.rate
	return time.Duration(at * float64(time.Second))
}
