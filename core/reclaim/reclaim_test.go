package reclaim

import (
	"testing"
	"time"
)

// A burst of large requests is followed by one reclaim, once they stop.
func TestOneReclaimAfterABurst(t *testing.T) {
	calls := make(chan struct{}, 10)
	r := New(func() { calls <- struct{}{} })
	for i := 0; i < 5; i++ {
		r.Touch()
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-calls:
		t.Fatal("reclaimed while large requests were still arriving")
	default:
	}
	select {
	case <-calls:
	case <-time.After(Quiet + 5*time.Second):
		t.Fatal("no reclaim after the burst")
	}
	time.Sleep(Quiet + 500*time.Millisecond)
	if len(calls) != 0 {
		t.Fatalf("%d more reclaims", len(calls))
	}
}
