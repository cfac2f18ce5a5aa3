package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// procUsage reads a process's open descriptors, /proc/pid/maps lines,
// memfd mappings and resident and peak memory (KiB).
type procUsage struct {
	fds, maps, memfds int
	rss, hwm          int
}

func usage(t *testing.T, pid int) procUsage {
	t.Helper()
	var u procUsage
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	u.fds = len(ents)
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	for _, l := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
		u.maps++
		if strings.Contains(l, "/memfd:") {
			u.memfds++
		}
	}
	u.rss, u.hwm = int(procKB(t, pid, "VmRSS")), int(procKB(t, pid, "VmHWM"))
	return u
}

// chaosModel is one model the chaos clients call, and how.
type chaosModel struct {
	name  string
	input string
	rows  int64
}

// TestPluginChaos: four clients call five stateless models on the CPU plugin
// (plain, nireq 2, dynamic batching, shape auto, and MULTI:CPU,MOCK) for
// 60 s, each request with a 10 s deadline, while the CPU plugin process is
// killed with SIGKILL five times and stopped with SIGSTOP once (the health
// check then kills it). No request may fail except by its own deadline, and
// afterwards the core has no more descriptors, memory mappings (memfd
// arenas and channels: exactly as many as before) or resident memory than
// before the first kill (bounds below).
func TestPluginChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("60 s")
	}
	const (
		runFor       = 60 * time.Second
		deadline     = 10 * time.Second
		mapsSlack    = 32       // the Go heap may grow and split a few mappings
		rssSlackKiB  = 64 << 10 // 64 MiB
		coreHWMBound = 512 << 10
	)
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "dummy", 1)
	repoWithVersions(t, dir, "dummy_dynamic", "dynamic", 1)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "plain", "base_path": "dummy"}},
		{"config": {"name": "nireq", "base_path": "dummy", "nireq": 2}},
		{"config": {"name": "batched", "base_path": "dynamic", "dynamic_batching": {"max_batch_size": 8, "max_queue_delay_microseconds": 2000}}},
		{"config": {"name": "auto", "base_path": "dummy", "shape": "auto"}},
		{"config": {"name": "multi", "base_path": "dummy", "target_device": "MULTI:CPU,MOCK"}}]}`)
	s := startArgs(t, "--config_path", cfg)
	pid := s.cmd.Process.Pid
	models := []chaosModel{{"plain", "b", 1}, {"nireq", "b", 1}, {"batched", "b", 1}, {"auto", "b", 2}, {"multi", "b", 1}}

	var ok, late atomic.Int64
	var mu sync.Mutex
	var failures []string
	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := kpb.NewGRPCInferenceServiceClient(s.conn)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := models[i%len(models)]
				first := float32(i % 1000)
				in := seq(int(10*m.rows), first)
				rc, cancel := context.WithTimeout(context.Background(), deadline)
				t0 := time.Now()
				r, err := client.ModelInfer(rc, &kpb.ModelInferRequest{ModelName: m.name,
					Inputs: []*inT{{Name: m.input, Datatype: "FP32", Shape: []int64{m.rows, 10}}}, RawInputContents: [][]byte{f32bytes(in...)}})
				cancel()
				d := int64(time.Since(t0))
				for cur := slowest.Load(); d > cur && !slowest.CompareAndSwap(cur, d); cur = slowest.Load() {
				}
				switch {
				case err == nil && equal(f32s(r.RawOutputContents[0]), seq(int(10*m.rows), first+1)):
					ok.Add(1)
				case status.Code(err) == codes.DeadlineExceeded:
					late.Add(1)
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s at %s: %v", m.name, time.Now().Format("15:04:05.000"), err))
					mu.Unlock()
				}
			}
		}(c)
	}

	start := time.Now()
	time.Sleep(3 * time.Second) // warm: auto has reloaded, every path has run
	base := usage(t, pid)
	t.Logf("before the first kill: %+v", base)
	// The CPU plugin now, once it has been restarted and serves again.
	current := func(old int) int {
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			for _, p := range children(t, pid) {
				if p != old && filepath.Base(exe(p)) == "ovms-device-cpu" {
					if code, _ := get(t, s.url("/v2/models/plain/ready")); code == 200 {
						return p
					}
				}
			}
		}
		t.Fatalf("no new CPU plugin serving 30 s after pid %d was signalled:\n%s", old, s.log())
		return 0
	}
	victim := pluginPid(t, s)
	actions := []string{"KILL", "KILL", "STOP", "KILL", "KILL", "KILL"}
	gap := (runFor - 6*time.Second) / time.Duration(len(actions))
	for i, a := range actions {
		time.Sleep(time.Until(start.Add(3*time.Second + time.Duration(i)*gap)))
		sig := syscall.SIGKILL
		if a == "STOP" {
			sig = syscall.SIGSTOP
		}
		t.Logf("%5.1fs: SIG%s to the CPU plugin (pid %d)", time.Since(start).Seconds(), a, victim)
		if err := syscall.Kill(victim, sig); err != nil {
			t.Fatal(err)
		}
		victim = current(victim)
	}
	time.Sleep(time.Until(start.Add(runFor)))
	close(stop)
	wg.Wait()

	var after procUsage
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = usage(t, pid)
		settled := after.fds <= base.fds && after.memfds == base.memfds && after.maps <= base.maps+mapsSlack
		if settled || time.Now().After(end) {
			if !settled {
				t.Errorf("10 s after the load: %+v, before the kills %+v (bounds: no more descriptors, the same memfd mappings, at most %d more mappings)",
					after, base, mapsSlack)
			}
			break
		}
	}
	t.Logf("after: %+v; %d requests ok, %d past their own deadline, %d failed; slowest %v", after, ok.Load(), late.Load(), len(failures),
		time.Duration(slowest.Load()).Round(time.Millisecond))
	if len(failures) > 0 {
		t.Errorf("%d requests failed, e.g.:\n%s", len(failures), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
	if after.rss > base.rss+rssSlackKiB {
		t.Errorf("resident memory grew from %d KiB to %d KiB (bound +%d KiB)", base.rss, after.rss, rssSlackKiB)
	}
	if after.hwm > coreHWMBound {
		t.Errorf("the core's peak resident memory is %d KiB (bound %d KiB)", after.hwm, coreHWMBound)
	}
	if n := strings.Count(s.log(), "device plugin process ended"); n != len(actions) {
		t.Errorf("%d plugin deaths logged, want %d", n, len(actions))
	}
	s.alive()
}
