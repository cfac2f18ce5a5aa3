package bench

import (
	"math"
	"testing"
	"time"
)

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
