package bench

import (
	"math"
	"testing"
	"time"
)

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, f := range v {
		out[i] = time.Duration(f * float64(time.Millisecond))
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 10 is the 5th", ten, 50, 5 * time.Millisecond},
		{"p90 of 10 is the 9th", ten, 90, 9 * time.Millisecond},
		{"p91 of 10 rounds up to the 10th", ten, 91, 10 * time.Millisecond},
		{"p99 of 10 is the max", ten, 99, 10 * time.Millisecond},
		{"p100 is the max", ten, 100, 10 * time.Millisecond},
		{"tiny p is the min", ten, 0.1, 1 * time.Millisecond},
		{"p50 of 3 is the middle", ms(1, 2, 30), 50, 2 * time.Millisecond},
		{"p50 of 4 is the 2nd (no interpolation)", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 100 is the max", hundred, 99.9, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize(ms(5, 1, 4, 2, 3), 2, 500*time.Millisecond)
	want := Summary{Count: 5, Errors: 2, Duration: 500 * time.Millisecond, Throughput: 10,
		P50: 3 * time.Millisecond, P90: 5 * time.Millisecond, P99: 5 * time.Millisecond,
		Max: 5 * time.Millisecond, Mean: 3 * time.Millisecond}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if z := Summarize(nil, 3, time.Second); z.Count != 0 || z.Errors != 3 || z.Throughput != 0 || z.P50 != 0 {
		t.Errorf("Summarize(no samples) = %+v", z)
	}
}

func TestMergePoolsSamplesNotRates(t *testing.T) {
	ws := []Window{
		{Latencies: ms(1, 1), Errors: 1, Duration: time.Second},
		{Latencies: ms(10, 10, 10, 10, 10, 10), Duration: time.Second},
		{Latencies: ms(2), Errors: 2, Duration: 2 * time.Second},
	}
	s := Merge(ws).Summary()
	// 9 samples over 4 s: 2.25/s (a mean of the rates would say 3.17/s).
	if s.Count != 9 || s.Errors != 3 || s.Duration != 4*time.Second || s.Throughput != 2.25 {
		t.Errorf("merged %+v", s)
	}
	if s.P50 != 10*time.Millisecond || s.Max != 10*time.Millisecond {
		t.Errorf("merged p50 %v max %v, want 10ms", s.P50, s.Max)
	}
	if len(ws[0].Latencies) != 2 {
		t.Errorf("Merge changed its input")
	}
}

func sums(pairs ...float64) []Summary {
	var out []Summary
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Summary{Count: 100, Throughput: pairs[i], P50: time.Duration(pairs[i+1] * float64(time.Microsecond))})
	}
	return out
}

func TestStable(t *testing.T) {
	tests := []struct {
		name string
		ws   []Summary
		pct  float64
		want bool
	}{
		{"fewer than 3 windows", sums(100, 50, 100, 50), 10, false},
		{"three equal windows", sums(100, 50, 100, 50, 100, 50), 10, true},
		{"within 10%", sums(95, 52, 105, 48, 100, 50), 10, true},
		{"only the last three count", sums(10, 500, 100, 50, 101, 50, 99, 51), 10, true},
		{"throughput outside", sums(80, 50, 100, 50, 120, 50), 10, false},
		{"p50 outside", sums(100, 40, 100, 50, 100, 60), 10, false},
		{"p50 inside a wider band", sums(100, 40, 100, 50, 100, 60), 25, true},
		{"exactly at the edge", sums(90, 50, 100, 50, 110, 50), 10, true},
		{"a window without samples", append(sums(100, 50, 100, 50), Summary{}), 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Stable(tt.ws, tt.pct); got != tt.want {
				t.Errorf("Stable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStableNeverOnAnOscillatingSequence(t *testing.T) {
	var ws []Summary
	for i := range 10 {
		tput := 100.0
		if i%2 == 1 {
			tput = 130
		}
		ws = append(ws, Summary{Count: 10, Throughput: tput, P50: time.Millisecond})
		if Stable(ws, 10) {
			t.Fatalf("stable after %d windows of an oscillating sequence", i+1)
		}
	}
}

func TestConstantSchedule(t *testing.T) {
	s := NewRateSchedule(500, Constant, 1)
	for i := range 1000 {
		if got, want := s.Next(), time.Duration(i)*2*time.Millisecond; got != want {
			t.Fatalf("send %d at %v, want %v", i, got, want)
		}
	}
}

func TestPoissonSchedule(t *testing.T) {
	const rate, n = 1000.0, 200000
	s := NewRateSchedule(rate, Poisson, 7)
	var prev time.Duration
	var sum, sumSq float64
	for i := range n {
		at := s.Next()
		if i == 0 && at != 0 {
			t.Fatalf("first send at %v, want 0", at)
		}
		gap := (at - prev).Seconds()
		if gap < 0 {
			t.Fatalf("send %d goes back in time", i)
		}
		if i > 0 {
			sum += gap
			sumSq += gap * gap
		}
		prev = at
	}
	mean := sum / (n - 1)
	cv := math.Sqrt(sumSq/(n-1)-mean*mean) / mean
	// Exponential gaps: mean 1/rate, coefficient of variation 1.
	if math.Abs(mean*rate-1) > 0.02 || math.Abs(cv-1) > 0.02 {
		t.Errorf("gap mean %v (want %v), cv %.3f (want 1)", mean, 1/rate, cv)
	}
	a, b := NewRateSchedule(rate, Poisson, 7), NewRateSchedule(rate, Poisson, 7)
	c := NewRateSchedule(rate, Poisson, 8)
	same, differ := true, false
	for range 100 {
		x, y, z := a.Next(), b.Next(), c.Next()
		same = same && x == y
		differ = differ || x != z
	}
	if !same || !differ {
		t.Errorf("seeded schedules: same seed equal %v, other seed differs %v", same, differ)
	}
}
