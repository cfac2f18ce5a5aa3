package main

import (
	"testing"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
)

// round is a measurement of one round with p50 in microseconds, or failed.
func round(name string, p50us int, failed bool) *measurement {
	m := &measurement{Name: name, Level: bench.Level{Count: 100, P50: time.Duration(p50us) * time.Microsecond}}
	if failed {
		m.Err = "connection refused"
	}
	return m
}

func TestMedianP50(t *testing.T) {
	a, b, c := round("a", 300, false), round("b", 150, false), round("c", 160, false)
	if got := medianP50([]*measurement{a, b, c}); got != c {
		t.Errorf("median of 300/150/160 us = %s, want c (160 us)", got.Name)
	}
	// A failed round counts as the slowest: the median is then the
	// slower of the two that answered, not the failed one's zero p50.
	f := round("f", 0, true)
	if got := medianP50([]*measurement{b, f, c}); got != c {
		t.Errorf("median with a failed round = %s, want c", got.Name)
	}
	if got := medianP50([]*measurement{b}); got != b {
		t.Errorf("median of one = %s, want b", got.Name)
	}
}

func TestRoundsCause(t *testing.T) {
	ovs := []*measurement{round("o1", 162, false), round("o2", 294, false), round("o3", 150, false)}
	echos := []*measurement{round("e1", 148, false), round("e2", 150, false), round("e3", 140, false)}
	want := "p50 by round: ovms 162.0/294.0/150.0 us, echo 148.0/150.0/140.0 us"
	if got := roundsCause(ovs, echos); got != want {
		t.Errorf("roundsCause = %q, want %q", got, want)
	}
	if got := roundsCause(ovs[:1], echos[:1]); got != "" {
		t.Errorf("one round: %q, want none", got)
	}
	echos[1] = round("e2", 0, true)
	if got := roundsCause(ovs, echos); got != "" {
		t.Errorf("a failed round: %q, want none", got)
	}
	if got := joinCauses("", "a", "", "b"); got != "a; b" {
		t.Errorf("joinCauses = %q", got)
	}
}
