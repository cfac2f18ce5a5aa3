//go:build linux && cgo

package timerslack

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDefaultMatchesConstructor(t *testing.T) {
	if time.Duration(defaultNS) != Default {
		t.Fatalf("the constructor's default is %v, Default is %v", time.Duration(defaultNS), Default)
	}
}

// threadSlacks reads the timer slack of n threads the runtime made, from
// goroutines locked to them (PR_GET_TIMERSLACK reads the calling thread's:
// /proc/PID/timerslack_ns of another thread needs CAP_SYS_NICE).
func threadSlacks(t *testing.T, n int) []int64 {
	t.Helper()
	var out []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
			v, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
			}
			out = append(out, int64(v))
		}()
	}
	wg.Wait()
	return out
}

// TestChildProbe is run by TestConstructor in a child process: it prints
// what the constructor did and the threads' slack.
func TestChildProbe(t *testing.T) {
	if os.Getenv("TIMERSLACK_PROBE") != "1" {
		t.Skip("run by TestConstructor in a child process")
	}
	d, err := Slack()
	fmt.Printf("status=%v %v\n", d, err)
	for _, v := range threadSlacks(t, 8) {
		fmt.Printf("slack=%d\n", v)
	}
}

// TestConstructor starts this test binary with each setting of Env, from a
// thread whose own slack is 77 us (a child inherits its parent's), and
// checks the slack of the child's threads, the runtime's included, and
// what Slack says.
func TestConstructor(t *testing.T) {
	const inherited = 77000
	cases := []struct {
		env    string // "-": unset
		want   int64
		status string
	}{
		{"-", int64(Default), "1ms <nil>"},
		{"", int64(Default), "1ms <nil>"},
		{"200us", 200000, "200µs <nil>"},
		{"2\u00b5s", 2000, "2µs <nil>"},
		{"3ms", 3000000, "3ms <nil>"},
		{"1.5ms", 1500000, "1.5ms <nil>"},
		{"1.0005ms", 1000500, "1.0005ms <nil>"},
		{"50000ns", 50000, "50µs <nil>"},
		{"10s", 10000000000, "10s <nil>"},
		{"0s", inherited, "77µs <nil>"},
		{"0", inherited, "77µs <nil>"},
		{"0.0ms", inherited, "77µs <nil>"},
		{"bogus", inherited, `OVMS_TIMER_SLACK="bogus" is not a duration`},
		{"5", inherited, `OVMS_TIMER_SLACK="5" is not a duration`},
		{"-1ms", inherited, `OVMS_TIMER_SLACK="-1ms" is not a duration`},
		{"+1ms", inherited, `OVMS_TIMER_SLACK="+1ms" is not a duration`},
		{" 1ms", inherited, `is not a duration`},
		{"1ms ", inherited, `is not a duration`},
		{"nanms", inherited, `is not a duration`},
		{"infs", inherited, `is not a duration`},
		{"0x10ms", inherited, `is not a duration`},
		{"1e3us", inherited, `is not a duration`},
		{"1ms500us", inherited, `is not a duration`},
		{".ms", inherited, `is not a duration`},
		{"10.5s", inherited, `is not a duration of at most 10s`},
		{"1h", inherited, `is not a duration`},
		{"99999999999999999999999ns", inherited, `is not a duration`},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildProbe$", "-test.v", "-test.count=1")
			env := []string{"TIMERSLACK_PROBE=1"}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, Env+"=") {
					env = append(env, kv)
				}
			}
			if c.env != "-" {
				env = append(env, Env+"="+c.env)
			}
			cmd.Env = env
			out, err := runFromSlack(cmd, inherited)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var slacks int
			for _, line := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(line, "slack="); ok {
					slacks++
					if v != fmt.Sprint(c.want) {
						t.Errorf("a thread's slack is %s ns, want %d", v, c.want)
					}
				}
				if v, ok := strings.CutPrefix(line, "status="); ok && !strings.Contains(v, c.status) {
					t.Errorf("Slack() = %s, want it to contain %q", v, c.status)
				}
			}
			if slacks != 8 {
				t.Fatalf("the probe reported %d threads, want 8:\n%s", slacks, out)
			}
		})
	}
}

// runFromSlack runs cmd from a thread whose timer slack is ns.
func runFromSlack(cmd *exec.Cmd, ns int) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return "", err
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(ns), 0, 0, 0); err != nil {
		return "", err
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLinkedOnlyByTheOVMSBinary checks that no package of the module but
// cli and cli/ovms (and their tests) links this package: its constructor
// would change the timer slack of the benchmark suite's baselines (an
// in-process engine, an echo server) and of every test binary of the core
// and the plugins. The plugins inherit the server's slack.
func TestLinkedOnlyByTheOVMSBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	// Every package of the module with its test variants, and what each links.
	cmd := exec.Command("go", "list", "-test", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "../../...")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/ovmsgo/ovms/"
	const self = mod + "internal/timerslack"
	allowed := map[string]bool{self: true, mod + "cli": true, mod + "cli/ovms": true}
	linked := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		// "p [p.test]" is p compiled for its tests, "p_test [p.test]" its
		// external tests, "p.test" their main: all count as p.
		pkg = strings.TrimSuffix(strings.TrimSuffix(pkg, ".test"), "_test")
		for _, d := range strings.Fields(deps) {
			if d == self {
				linked[pkg] = true
				if !allowed[pkg] && !strings.HasPrefix(pkg, self) {
					t.Errorf("%s links %s: only the ovms binary (cli, cli/ovms) may", pkg, self)
				}
			}
		}
	}
	if !linked[mod+"cli/ovms"] {
		t.Errorf("the ovms binary (cli/ovms) does not link %s:\n%s", self, out)
	}
}
