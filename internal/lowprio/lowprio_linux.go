package lowprio

import (
	"os"

	"golang.org/x/sys/unix"
)

// isMainThread reports whether the calling thread is the process's main
// thread (its thread id is the process id).
func isMainThread() bool { return unix.Gettid() == os.Getpid() }

// lower raises the calling thread's nice value by delta, to at most 19.
func lower(delta int) error {
	cur, ok := threadNice()
	if !ok {
		cur = 0
	}
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), min(cur+delta, 19))
}

// threadNice reads the calling thread's nice value. The getpriority system
// call returns 20 - nice (1 to 40).
func threadNice() (int, bool) {
	p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		return 0, false
	}
	return 20 - p, true
}
