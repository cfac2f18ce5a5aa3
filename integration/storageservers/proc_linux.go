package storageservers

import "syscall"

// setParentDeathSignal has Linux kill the child when the process that
// started it dies, so that a test binary that panics or times out does not
// leave azurite running.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGKILL
}
