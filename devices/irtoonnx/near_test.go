package irtoonnx

import (
	"math"
	"testing"
)

// nearRecorder is a testing.TB that records Fatalf instead of stopping.
type nearRecorder struct {
	testing.TB
	failed bool
}

func (r *nearRecorder) Helper()               {}
func (r *nearRecorder) Fatalf(string, ...any) { r.failed = true }

// TestNearFailsOnNaN checks the harness's comparison itself: a NaN where a
// number is wanted (or the reverse) is a failure.
func TestNearFailsOnNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		got, want float32
		fail      bool
	}{{nan, 1, true}, {1, nan, true}, {nan, nan, false}, {1, 1, false}, {2, 1, true}} {
		r := &nearRecorder{TB: t}
		near(r, "x", []float32{tc.got}, []float32{tc.want}, 1e-6)
		if r.failed != tc.fail {
			t.Errorf("near(%g, %g) failed=%v, want %v", tc.got, tc.want, r.failed, tc.fail)
		}
	}
}
