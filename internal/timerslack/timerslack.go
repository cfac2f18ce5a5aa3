// Package timerslack sets the timer slack of the ovms process before the Go
// runtime starts, so that every thread inherits it, the runtime's system
// monitor (sysmon) included, and so do the plugins it starts.
//
// Why: sysmon, a thread of every Go process, sleeps 20 us at a time
// whenever the process has just woken from idle (any system call or cgo
// call after all its goroutines slept restarts that short sleep), and a
// server that answers one request at a time wakes from idle several times
// a request. With Linux's default timer slack (50 us) each of those sleeps
// is a timer interrupt and two context switches every 70-100 us, taken from
// whatever runs on that CPU: on a virtual machine, where an idle vCPU halts,
// each also costs the host a wake-up. Measured on the 2-vCPU VM
// (docs/performance.md, "Ninth session on issue 16"): the ovms server
// process made 10.5 such sleeps per request of a 12 MiB model from client
// shared memory, its plugin 6. A larger slack lets the kernel put those
// wake-ups off and coalesce them with others.
//
// The cost: any timer of the process may fire up to the slack late. Go's
// own timers already wake in steps of about a millisecond (the netpoller
// waits in whole milliseconds), so the default, 1 ms (Default), at most
// doubles that step; sysmon's own duties (taking a processor back from a
// long system call or cgo call, preempting a goroutine that ran 10 ms) may
// also come up to the slack later. OVMS_TIMER_SLACK (a decimal number and a
// unit, ns, us, µs, ms or s, at most 10 s: "50us" is the kernel's default;
// "0s" leaves the slack inherited from the parent process) changes it; a
// value that does not parse is ignored, and Slack reports it.
//
// The slack is set by a C constructor, which runs before the Go runtime
// creates its first thread, in every binary that links this package: only
// the ovms binary does (through package cli), the server and its
// subcommands alike (ovms bench's open-loop dispatcher sets its own
// thread's slack to 1 us). The plugins inherit the server's slack, as a
// child process does its parent's. Packages the benchmark suite or the
// core's libraries link must not import it: the suite's baselines (an
// in-process engine, an echo server) keep the kernel's default.
package timerslack

import (
	"fmt"
	"os"
	"time"
)

// Env is the environment variable that overrides Default.
const Env = "OVMS_TIMER_SLACK"

// Default is the timer slack ovms's processes run with.
const Default = time.Millisecond

// Slack reports the timer slack in force once the constructor ran (read
// back from the kernel: the value set, or the inherited one), and an error
// naming the cause when OVMS_TIMER_SLACK could not be applied (a value that
// is not a duration of at most 10 s, or the kernel's refusal). It reports 0
// where the platform has no timer slack.
func Slack() (time.Duration, error) {
	ns, state, errno := applied()
	d := time.Duration(ns)
	switch state {
	case stateInvalid:
		return d, fmt.Errorf("%s=%q is not a duration of at most 10s (a decimal number and ns, us, ms or s: 1ms, 50us, 0s); the timer slack stays as inherited, %v", Env, os.Getenv(Env), d)
	case stateFailed:
		return d, fmt.Errorf("setting the timer slack (%s, default %v): %w; it stays as inherited, %v", Env, Default, errno, d)
	default:
		return d, nil
	}
}
