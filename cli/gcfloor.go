package cli

import (
	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/internal/gcfloor"
)

// startGCFloor sets the garbage collector's heap floor of the server's
// process (internal/gcfloor; the device plugins set their own, from the
// same environment) and logs it.
func startGCFloor(log *logrus.Entry) {
	floor, err := gcfloor.Start()
	if err != nil {
		log.WithError(err).Warn("garbage collector heap floor: bad value")
	}
	log.WithField("gc_min_heap_mb", floor>>20).Debug("garbage collector heap floor")
}
