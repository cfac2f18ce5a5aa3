package bench

import (
	"math/rand/v2"
	"time"
)

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
