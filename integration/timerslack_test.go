package integration

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// timerSlack reads a process's timer slack (of its main thread, which the
// Go runtime's threads were cloned from). Reading another process's needs
// CAP_SYS_NICE: without it the test is skipped.
func timerSlack(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", pid))
	if errors.Is(err, fs.ErrPermission) {
		t.Skipf("reading another process's timer slack needs CAP_SYS_NICE: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestTimerSlack checks that the server and its plugin run with the timer
// slack of internal/timerslack (1 ms, against the 50 us this test process
// has and would pass on; OVMS_TIMER_SLACK empty is unset), and with
// OVMS_TIMER_SLACK's when it is set.
func TestTimerSlack(t *testing.T) {
	if own := timerSlack(t, os.Getpid()); own == "1000000" {
		t.Skipf("this test process already runs with a 1 ms timer slack: the server's could be inherited")
	}
	s := startEnv(t, []string{"OVMS_TIMER_SLACK="}, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
	if got := timerSlack(t, s.cmd.Process.Pid); got != "1000000" {
		t.Errorf("ovms timer slack %s ns, want 1000000", got)
	}
	if got := timerSlack(t, pluginPid(t, s)); got != "1000000" {
		t.Errorf("ovms-device-cpu timer slack %s ns, want 1000000", got)
	}

	s = startEnv(t, []string{"OVMS_TIMER_SLACK=200us"}, "--model_name", "dummy",
		"--model_path", filepath.Join(modelsDir, "dummy"), "--log_level", "DEBUG")
	if got := timerSlack(t, s.cmd.Process.Pid); got != "200000" {
		t.Errorf("ovms timer slack with OVMS_TIMER_SLACK=200us: %s ns, want 200000", got)
	}
	if got := timerSlack(t, pluginPid(t, s)); got != "200000" {
		t.Errorf("ovms-device-cpu timer slack with OVMS_TIMER_SLACK=200us: %s ns, want 200000", got)
	}
	if log := s.log(); !strings.Contains(log, `timer_slack="200µs"`) { // logrus quotes the µ
		t.Errorf("the DEBUG log does not give the timer slack:\n%s", log)
	}
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Errorf("inference with OVMS_TIMER_SLACK=200us: %v", err)
	}
}
