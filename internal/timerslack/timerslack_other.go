//go:build !linux || !cgo

package timerslack

import "syscall"

const (
	stateUnset = iota
	stateSet
	stateInherited
	stateInvalid
	stateFailed
)

const defaultNS = int64(Default)

// applied reports no slack: timer slack is a Linux setting, and the
// constructor that sets it needs cgo.
func applied() (ns int64, state int, errno syscall.Errno) { return 0, stateUnset, 0 }
