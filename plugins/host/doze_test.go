package host

import (
	"testing"
	"time"
)

// TestDozeFor: the result's receiver sleeps through a run only with one
// request in flight and a run long enough, until dozeMargin before the
// run is due to end.
func TestDozeFor(t *testing.T) {
	const us = int64(time.Microsecond)
	sent := int64(1_000_000_000)
	for _, c := range []struct {
		name     string
		inFlight int64
		due      time.Duration
		now      int64
		want     time.Duration
	}{
		{"nothing in flight", 0, time.Millisecond, sent, 0},
		{"two in flight", 2, time.Millisecond, sent, 0},
		{"short run: polled through", 1, minDoze + dozeMargin - 1, sent, 0},
		{"no runs measured yet", 1, 0, sent, 0},
		{"long run, just sent", 1, time.Millisecond, sent, time.Millisecond - dozeMargin},
		{"long run, partly over", 1, time.Millisecond, sent + 300*us, 700*time.Microsecond - dozeMargin},
		{"about due: poll", 1, time.Millisecond, sent + 930*us, 0},
		{"overdue: poll", 1, time.Millisecond, sent + 2000*us, 0},
	} {
		if got := dozeFor(c.inFlight, c.due, sent, c.now); got != c.want {
			t.Errorf("%s: dozeFor = %v, want %v", c.name, got, c.want)
		}
	}
}
