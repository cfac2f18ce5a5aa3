package modelmanager

import (
	"testing"
	"time"
)

// fakeClock drives a pacer: each step of work takes work, and each sleep
// takes what was asked plus overrun.
type fakeClock struct {
	t               time.Time
	worked, paused  time.Duration
	sleeps, yields  int
	longest         time.Duration // longest run of work between two sleeps
	run             time.Duration
	overrun, stall  time.Duration
	stallAfterSleep int // the sleep with this number (1-based) takes stall more
}

func (c *fakeClock) pacer() *pacer {
	return &pacer{last: c.t, now: func() time.Time { return c.t }, sleep: func(d time.Duration) {
		c.sleeps++
		d += c.overrun
		if c.sleeps == c.stallAfterSleep {
			d += c.stall
		}
		c.t = c.t.Add(d)
		c.paused += d
		c.run = 0
	}, yield: func() { c.yields++ }}
}

func (c *fakeClock) work(p *pacer, steps int, each time.Duration) {
	for range steps {
		c.t = c.t.Add(each)
		c.worked += each
		c.run += each
		c.longest = max(c.longest, c.run)
		p.step()
	}
}

// TestPacerHalfACore: the listing works about as long as it pauses, with
// exact sleeps and with sleeps that end up to a timer slack late; a pause
// that ran long lets it work longer before the next, but only up to
// maxCredit.
func TestPacerHalfACore(t *testing.T) {
	for _, tc := range []struct {
		name    string
		overrun time.Duration
	}{
		{"exact sleeps", 0},
		{"sleeps 1 ms late (ovms's timer slack)", time.Millisecond},
		{"sleeps 50 us late (Linux's default slack)", 50 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: time.Unix(0, 0), overrun: tc.overrun}
			p := c.pacer()
			c.work(p, 2000, 10*time.Microsecond) // 20 ms of listing
			share := float64(c.worked) / float64(c.worked+c.paused)
			if share < 0.45 || share > 0.55 {
				t.Errorf("the listing had %.2f of the time (worked %v, paused %v in %d sleeps); want about half", share, c.worked, c.paused, c.sleeps)
			}
			if c.longest > listBurst+tc.overrun+10*time.Microsecond {
				t.Errorf("worked %v without a pause; want at most a burst and the last pause's overrun (%v)", c.longest, listBurst+tc.overrun)
			}
			if c.yields == 0 || c.yields+c.sleeps != 2000 {
				t.Errorf("%d yields and %d sleeps after 2000 steps; want one of them after each", c.yields, c.sleeps)
			}
		})
	}
	t.Run("a pause that stalled counts up to maxCredit", func(t *testing.T) {
		c := &fakeClock{t: time.Unix(0, 0), stall: 50 * time.Millisecond, stallAfterSleep: 1}
		p := c.pacer()
		c.work(p, 1000, 10*time.Microsecond)
		if want := maxCredit + listBurst + 10*time.Microsecond; c.longest > want {
			t.Errorf("worked %v without a pause after a 50 ms stall; want at most %v", c.longest, want)
		}
		if c.longest < maxCredit {
			t.Errorf("worked at most %v without a pause after a 50 ms stall; want the stall to count up to %v", c.longest, maxCredit)
		}
	})
}
