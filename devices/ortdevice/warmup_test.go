package ortdevice

import (
	"testing"
)

// TestWarmUp: the warm-up model is valid and its session is created and
// closed (a broken warm-up only logs in the plugin, so this is where it
// fails).
func TestWarmUp(t *testing.T) {
	requireORT(t)
	if err := warmUp(quietLog()); err != nil {
		t.Fatal(err)
	}
}
