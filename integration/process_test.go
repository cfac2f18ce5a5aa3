package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// children lists the pids whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// The fields after the parenthesised command: state ppid ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func exe(pid int) string {
	p, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return p
}

// pluginPid returns the pid of the CPU plugin process started by s.
func pluginPid(t *testing.T, s *server) int {
	t.Helper()
	for _, c := range children(t, s.cmd.Process.Pid) {
		if filepath.Base(exe(c)) == "ovms-device-cpu" {
			return c
		}
	}
	t.Fatalf("no ovms-device-cpu child of ovms pid %d", s.cmd.Process.Pid)
	return 0
}

func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z" // a zombie is dead, awaiting its reaper
}

func TestPluginIsASeparateProcess(t *testing.T) {
	s := startServer(t, "dummy")
	pid := pluginPid(t, s)
	if pid == s.cmd.Process.Pid {
		t.Fatal("plugin runs in the ovms process")
	}
	// The ONNX Runtime library is mapped by the plugin, never by the core.
	maps := func(pid int) string { b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid)); return string(b) }
	if !strings.Contains(maps(pid), "libonnxruntime") {
		t.Error("plugin has not mapped ONNX Runtime")
	}
	if strings.Contains(maps(s.cmd.Process.Pid), "libonnxruntime") {
		t.Error("ovms core has mapped ONNX Runtime")
	}
	// Both processes map the same arena (a memfd, not a file in /dev/shm).
	if !strings.Contains(maps(pid), "/memfd:ovms-cpu") || !strings.Contains(maps(s.cmd.Process.Pid), "/memfd:ovms-cpu") {
		t.Error("arena memfd not mapped by both processes")
	}
}

// TestLargeInputTravelsThroughSharedMemory sends a 2 MiB tensor and checks,
// from the plugin's own record of the control message it received, that the
// bytes were in the arena and the gRPC message was small.
func TestLargeInputTravelsThroughSharedMemory(t *testing.T) {
	s := startServer(t, "passthrough_u8", "--log_level", "DEBUG")
	const rows, cols = 1024, 2048 // 2 MiB of uint8
	data := make([]byte, rows*cols)
	for i := range data {
		data[i] = byte(i*7 + i/cols)
	}
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	resp, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{
		ModelName:        "passthrough_u8",
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "UINT8", Shape: []int64{rows, cols}}},
		RawInputContents: [][]byte{data},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.RawOutputContents[0], data) || resp.Outputs[0].Shape[0] != rows {
		t.Fatal("passthrough output differs from input")
	}
	re := regexp.MustCompile(`control_bytes=(\d+).*inputs="?input:arena\[(\d+),\+(\d+)\]`)
	var m []string
	deadline := time.Now().Add(5 * time.Second)
	for m == nil && time.Now().Before(deadline) {
		for _, line := range strings.Split(s.log(), "\n") {
			if strings.Contains(line, "infer request") {
				m = re.FindStringSubmatch(line)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no infer request record from the plugin in the log:\n%s", s.log())
	}
	control, _ := strconv.Atoi(m[1])
	length, _ := strconv.Atoi(m[3])
	if length != rows*cols {
		t.Errorf("plugin saw an input of %d bytes in the arena, want %d", length, rows*cols)
	}
	if control > 1024 {
		t.Errorf("control message to the plugin was %d bytes: tensor bytes went over gRPC", control)
	}
}

func TestKillLeavesNoPluginOrSharedMemory(t *testing.T) {
	shmBefore, _ := os.ReadDir("/dev/shm")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startServer(t, "dummy")
			pid := pluginPid(t, s)
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
				t.Fatal("ovms did not exit")
			}
			deadline := time.Now().Add(5 * time.Second)
			for !gone(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !gone(pid) {
				t.Fatalf("plugin pid %d still running after ovms got %v", pid, sig)
			}
		})
	}
	shmAfter, _ := os.ReadDir("/dev/shm")
	if len(shmAfter) > len(shmBefore) {
		t.Errorf("/dev/shm grew from %d to %d entries", len(shmBefore), len(shmAfter))
	}
}

// procKB reads a "Vm..." field of /proc/<pid>/status, in KiB.
func procKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	return procKiB(t, fmt.Sprintf("/proc/%d/status", pid), field)
}

// procKiB reads a "Field:   N kB" line of a /proc file (status,
// smaps_rollup), in KiB.
func procKiB(t *testing.T, path, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s of %s: %v", field, path, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %s", field, path)
	return 0
}

// TestPluginMallocTunables: the plugin starts with glibc's malloc asking
// for transparent huge pages on one arena (faster session creation,
// core/pluginhost.MallocTunables), unless the operator set GLIBC_TUNABLES,
// which the plugin then inherits unchanged.
func TestPluginMallocTunables(t *testing.T) {
	environ := func(s *server) []string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pluginPid(t, s)))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\x00")
	}
	s := startServer(t, "dummy")
	// glibc 2.36 parses GLIBC_TUNABLES in place: /proc/PID/environ shows
	// the ':' between tunables as a NUL.
	want := "GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1"
	if env := strings.Join(environ(s), "\x00"); !strings.Contains(env, want) && !strings.Contains(env, strings.ReplaceAll(want, ":", "\x00")) {
		t.Errorf("the plugin's environment has no %s: %q", want, env)
	}
	// The setting takes effect: ONNX Runtime's allocations sit in huge
	// pages (with hugetlb=1 alone the session threads' arenas kept 4 KiB
	// pages, and a plugin serving dummy had none). Only where it can tell:
	// transparent huge pages in madvise mode (with "always" every process
	// has them, with "never" none) and glibc 2.35 or later (older ones
	// ignore hugetlb).
	thp, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	libc, _ := exec.Command("getconf", "GNU_LIBC_VERSION").Output()
	if !strings.Contains(string(thp), "[madvise]") || !glibcAtLeast(string(libc), 2, 35) {
		t.Logf("transparent huge pages %q, %q: their use not checked", strings.TrimSpace(string(thp)), strings.TrimSpace(string(libc)))
	} else if kib := procKiB(t, fmt.Sprintf("/proc/%d/smaps_rollup", pluginPid(t, s)), "AnonHugePages"); kib == 0 {
		t.Errorf("the plugin has no anonymous huge pages (AnonHugePages 0 kB) with transparent huge pages %q and %s", strings.TrimSpace(string(thp)), strings.TrimSpace(string(libc)))
	}
	own := startEnv(t, []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2"}, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"))
	var tunables []string
	for _, kv := range environ(own) {
		if strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			tunables = append(tunables, kv)
		}
	}
	if !slices.Equal(tunables, []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2"}) {
		t.Errorf("the operator's GLIBC_TUNABLES was not passed on unchanged: %q", tunables)
	}
}

// glibcAtLeast reports whether getconf's "glibc 2.36" is major.minor or
// later.
func glibcAtLeast(getconf string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(strings.TrimSpace(getconf), "glibc %d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
