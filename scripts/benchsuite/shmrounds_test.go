package main

import (
	"testing"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

func TestShmRoundsCause(t *testing.T) {
	m := func(p50us int) *measurement {
		return &measurement{Level: bench.Level{Count: 10, P50: time.Duration(p50us) * time.Microsecond}}
	}
	shms := []*measurement{m(600), m(550), m(700)}
	floors := []*measurement{m(400), m(380), m(420)}
	engs := []*measurement{m(200), m(210), m(190)}
	empties := []*measurement{m(150), m(160), m(170)}
	want := "p50 by round (us): ovms 600.0/550.0/700.0, floor 400.0/380.0/420.0, engine 200.0/210.0/190.0, empty echo 150.0/160.0/170.0"
	if got := shmRoundsCause(shms, floors, engs, empties); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := shmRoundsCause(shms[:1], floors[:1], engs[:1], empties[:1]); got != "" {
		t.Errorf("one round: %q", got)
	}
	failed := []*measurement{m(400), {Name: "floor", Err: "boom"}, m(420)}
	if got := shmRoundsCause(shms, failed, engs, empties); got != "" {
		t.Errorf("a failed round: %q", got)
	}
	if got := shmRoundsCause(shms, floors[:2], engs, empties); got != "" {
		t.Errorf("rounds of different counts: %q", got)
	}
}
