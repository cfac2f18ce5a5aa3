package ortdevice

import (
	"io"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestWarmUp: the warm-up model is valid and its session is created and
// closed (a broken warm-up only logs in the plugin, so this is where it
// fails).
func TestWarmUp(t *testing.T) {
	requireORT(t)
	l := logrus.New()
	l.SetOutput(io.Discard)
	if err := warmUp(logrus.NewEntry(l)); err != nil {
		t.Fatal(err)
	}
}
