// Package coreprocs lets the core's Go scheduler run goroutines on fewer
// CPUs than Go's default (GOMAXPROCS), for a core that shares a small
// machine with its device plugins, whose engines use every CPU. It is off
// unless EnvCoreProcs asks for it.
//
// The core's work on a request is a chain of short hand-offs (the
// connection's reader, the handler, the plugin's result, gRPC's writer).
// With a P idle, Go wakes a second thread at each hand-off to look for
// more work (wakep), which finds none and sleeps again; on the 2-vCPU test
// machine one P for the core took its context switches from 18-20 to
// 11-13 a ResNet-50 inference and a 12 MiB inference from client shared
// memory to 0.94x the time. But a goroutine busy for milliseconds then
// holds the only P until Go preempts it (10 ms): while a 200-model
// config.json was parsed on reload, other models' p99 rose to 9-11 ms
// (2.5-4x) against 4-6 ms with every CPU (docs/performance.md, "Eighteenth
// session on issue 16"). So the default stays Go's.
//
// GOMAXPROCS set in the environment leaves the scheduler as the user set
// it (and the plugins inherit it, as every Go program would); EnvCoreProcs
// sets the core's alone.
package coreprocs

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/sirupsen/logrus"
)

// EnvCoreProcs names the environment variable that sets the core's
// GOMAXPROCS (a whole number; empty or 0: Go's default, every CPU or the
// container's CPU limit). The plugins do not take it.
const EnvCoreProcs = "OVMS_CORE_GOMAXPROCS"

// machine is Go's GOMAXPROCS as the process started: the CPUs (or the
// container's CPU limit), or GOMAXPROCS from the environment. It is read
// at package initialization, before Limit changes it.
var machine = runtime.GOMAXPROCS(0)

// Machine is how many CPUs the process had before Limit: what sizes the
// work of the device plugins (load parallelism), which keep every CPU.
func Machine() int { return machine }

// Limit sets the core's GOMAXPROCS from EnvCoreProcs; nothing when it is
// empty or 0, or when GOMAXPROCS is set. It returns the value in force and
// an error for a value that is not a whole number (Go's default is kept
// then).
func Limit() (procs int, err error) {
	v := os.Getenv(EnvCoreProcs)
	if os.Getenv("GOMAXPROCS") != "" || v == "" {
		return runtime.GOMAXPROCS(0), nil
	}
	k, perr := strconv.Atoi(v)
	switch {
	case perr != nil || k < 0:
		return runtime.GOMAXPROCS(0), fmt.Errorf("%s=%q is not a whole number; keeping %d", EnvCoreProcs, v, runtime.GOMAXPROCS(0))
	case k > 0:
		runtime.GOMAXPROCS(k)
	}
	return runtime.GOMAXPROCS(0), nil
}

// LimitLogged is Limit with a warning for a bad value and the outcome
// logged at debug level.
func LimitLogged(log logrus.FieldLogger) {
	n, err := Limit()
	if err != nil {
		log.WithError(err).Warn("core GOMAXPROCS: bad value")
	}
	log.WithFields(logrus.Fields{"gomaxprocs": n, "cpus": machine}).Debug("core scheduler CPUs")
}
