// Package coreprocs sets how many CPUs the core's Go scheduler runs
// goroutines on (GOMAXPROCS): by default half of what Go would take, at
// least 1, because the core shares the machine with its device plugins,
// whose engines use every CPU.
//
// The core's work on a request is a chain of short hand-offs (the
// connection's reader, the handler, the plugin's result, gRPC's writer).
// With an idle P, Go wakes a second thread at each hand-off to look for
// more work (wakep), which finds none and sleeps again; on the 2-vCPU test
// machine that doubled the core's context switches (18.5 against 11.5 a
// ResNet-50 inference) and took CPU and wake-ups from the engine and the
// client (docs/performance.md, "Eighteenth session on issue 16"). The core
// makes no long cgo calls, so a single P never waits on one; the device
// plugins, which do, keep Go's default.
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
// GOMAXPROCS (a whole number; 0: Go's default, every CPU). The plugins do
// not take it.
const EnvCoreProcs = "OVMS_CORE_GOMAXPROCS"

// machine is Go's GOMAXPROCS as the process started: the CPUs (or the
// container's CPU limit), or GOMAXPROCS from the environment. It is read
// at package initialization, before Limit changes it.
var machine = runtime.GOMAXPROCS(0)

// Machine is how many CPUs the process had before Limit: what sizes the
// work of the device plugins (load parallelism), which keep every CPU.
func Machine() int { return machine }

// Default is the core's GOMAXPROCS for a machine of n CPUs: half, at
// least 1.
func Default(n int) int { return max(1, n/2) }

// Limit sets the core's GOMAXPROCS from the environment: EnvCoreProcs, or
// Default(Machine()); nothing when GOMAXPROCS is set. It returns the value
// in force and an error for a value of EnvCoreProcs that is not a whole
// number (the default is used then).
func Limit() (procs int, err error) {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), nil
	}
	n := Default(machine)
	if v := os.Getenv(EnvCoreProcs); v != "" {
		k, perr := strconv.Atoi(v)
		switch {
		case perr != nil || k < 0:
			err = fmt.Errorf("%s=%q is not a whole number; using %d", EnvCoreProcs, v, n)
		case k == 0:
			n = machine
		default:
			n = k
		}
	}
	runtime.GOMAXPROCS(n)
	return n, err
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
