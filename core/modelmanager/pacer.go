package modelmanager

import (
	"runtime"
	"time"
)

// listBurst is how long Reconcile lists unchanged models' version folders
// before it pauses as long: at most about half a core for a reload's
// listing (200 local models: about 5 ms of system calls), however many
// models, so that the requests being served keep the rest (docs/performance.md,
// "Many models").
const listBurst = 250 * time.Microsecond

// maxCredit bounds how much longer than asked the pauses may have been and
// still count: a pause that ran long (the process's 1 ms timer slack, a
// busy machine) lets the listing run as much longer before its next pause,
// but never more than this at once.
const maxCredit = 2 * time.Millisecond

// pacer keeps a loop to about half a core: after every step it yields, and
// once the loop has worked listBurst since its last pause it sleeps as long
// as it worked. The time a sleep really took is what counts, so a sleep
// that overran (ovms runs with a 1 ms timer slack: a 250 us sleep ends
// after up to 1.25 ms) is not lost to the listing: it may work as long
// before it pauses again (up to maxCredit). Without that credit the slack
// alone would leave the listing a sixth of a core instead of half.
type pacer struct {
	last  time.Time     // end of the previous step or pause
	debt  time.Duration // work less pause since the start; below zero: credit
	now   func() time.Time
	sleep func(time.Duration)
	yield func()

	pauses int           // how many pauses so far
	paused time.Duration // their length
}

// newPacer returns a pacer starting now, on the real clock.
func newPacer() *pacer {
	return &pacer{last: time.Now(), now: time.Now, sleep: time.Sleep, yield: runtime.Gosched}
}

// step ends one step of work: it yields, or pauses when the work since
// the last pause has reached listBurst.
func (p *pacer) step() {
	now := p.now()
	p.debt += now.Sub(p.last)
	p.last = now
	if p.debt < listBurst {
		p.yield()
		return
	}
	p.sleep(p.debt)
	after := p.now()
	p.pauses++
	p.paused += after.Sub(now)
	p.debt = max(p.debt-after.Sub(now), -maxCredit)
	p.last = after
}
