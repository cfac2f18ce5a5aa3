package bench

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// OnThreadWithSlack runs f on the calling goroutine locked to its OS thread
// with the thread's timer slack set to slack, and restores the thread's own
// slack after (not its default: in ovms every thread starts at the
// process's 1 ms, internal/timerslack). A thread's slack bounds how late its
// sleeps (nanosleep, epoll, futex waits) may end, and a process forked from
// the thread starts with it. Where the kernel refuses, f runs all the same.
func OnThreadWithSlack(slack time.Duration, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err == nil && unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(max(slack, 1)), 0, 0, 0) == nil {
		defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	}
	f()
}
