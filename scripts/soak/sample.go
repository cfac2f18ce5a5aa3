package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// proc is one process's figures.
type proc struct {
	pid                int
	rssKiB, hwmKiB     int
	fds, threads, maps int
	memfdMaps          int // mappings of memfds and /dev/shm objects
}

// sample is one interval's figures.
type sample struct {
	at         time.Duration
	core       proc
	plugin     proc // the device plugin (one family: CPU)
	goroutines int  // the core's, from its last "configuration applied" log line
	ok, failed int64
	churn      string
}

// take reads the figures of ovms and its device plugin.
func take(srv *server, st *stats, at time.Duration) (sample, error) {
	if !srv.alive() {
		return sample{}, fmt.Errorf("ovms exited: %v", srv.cmd.ProcessState)
	}
	s := sample{at: at, ok: st.ok.Load(), failed: st.failed.Load(),
		churn: fmt.Sprintf("%d cycles, %d rewrites, %d/%d ok", st.cycles.Load(), st.rewrites.Load(), st.churnOK.Load(), st.churnOK.Load()+st.churnFailed.Load())}
	var err error
	if s.core, err = readProc(srv.cmd.Process.Pid); err != nil {
		return s, err
	}
	plugins := pluginPids(srv.cmd.Process.Pid)
	if len(plugins) != 1 {
		return s, fmt.Errorf("%d device plugin processes, want 1", len(plugins))
	}
	if s.plugin, err = readProc(plugins[0]); err != nil {
		return s, err
	}
	s.goroutines = goroutines(srv.logPath)
	return s, nil
}

var (
	reStatus     = regexp.MustCompile(`(?m)^(VmRSS|VmHWM|Threads):\s+(\d+)`)
	reGoroutines = regexp.MustCompile(`configuration applied.*goroutines=(\d+)`)
)

// readProc reads a process's figures from /proc.
func readProc(pid int) (proc, error) {
	p := proc{pid: pid}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for _, m := range reStatus.FindAllSubmatch(status, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		switch string(m[1]) {
		case "VmRSS":
			p.rssKiB = n
		case "VmHWM":
			p.hwmKiB = n
		case "Threads":
			p.threads = n
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return p, err
	}
	p.fds = len(fds)
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return p, err
	}
	for _, l := range bytes.Split(maps, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		p.maps++
		if bytes.Contains(l, []byte("/memfd:")) || bytes.Contains(l, []byte("/dev/shm/")) {
			p.memfdMaps++
		}
	}
	return p, nil
}

// pluginPids lists the device plugin children of ovms.
func pluginPids(ovms int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if len(fields) > 1 && fields[1] == strconv.Itoa(ovms) && strings.HasPrefix(filepath.Base(exe), "ovms-device-") {
			out = append(out, pid)
		}
	}
	return out
}

// goroutines is the count of the core's last "configuration applied" log
// line (the core logs its goroutines when it applies a changed config.json,
// which the soak does every 5 s); -1 when there is none yet.
func goroutines(logPath string) int {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return -1
	}
	ms := reGoroutines.FindAllSubmatch(data, -1)
	if len(ms) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(string(ms[len(ms)-1][1]))
	return n
}

func mib(kib int) float64 { return float64(kib) / 1024 }

func printHeader(w io.Writer) {
	fmt.Fprintln(w, "time    core: rss MiB  fds  threads  maps (memfd)  goroutines | plugin: rss MiB  fds  threads  maps (memfd) | requests  failed | churn")
}

func (s sample) print(w io.Writer) {
	fmt.Fprintf(w, "%-7s %14.1f %4d %8d %5d (%d) %11d | %15.1f %4d %8d %5d (%d) | %8d %7d | %s\n",
		s.at.Round(time.Second), mib(s.core.rssKiB), s.core.fds, s.core.threads, s.core.maps, s.core.memfdMaps, s.goroutines,
		mib(s.plugin.rssKiB), s.plugin.fds, s.plugin.threads, s.plugin.maps, s.plugin.memfdMaps, s.ok, s.failed, s.churn)
}

// verdict compares the last sample with the first (taken after one
// interval of warm-up) against the bounds and prints the table; it
// returns the exit code.
func verdict(w io.Writer, samples []sample, st *stats, max bounds) int {
	first, last := samples[0], samples[len(samples)-1]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nfigure\tfirst\tlast\tgrowth\tbound\tresult")
	failed := 0
	check := func(name string, a, b, bound float64) {
		res := "PASS"
		if b-a > bound {
			res, failed = "FAIL", failed+1
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%+.1f\t%.0f\t%s\n", name, a, b, b-a, bound, res)
	}
	check("core RSS (MiB)", mib(first.core.rssKiB), mib(last.core.rssKiB), max.coreRSSMiB)
	check("core open files", float64(first.core.fds), float64(last.core.fds), float64(max.fds))
	check("core threads", float64(first.core.threads), float64(last.core.threads), float64(max.threads))
	check("core mappings", float64(first.core.maps), float64(last.core.maps), float64(max.maps))
	check("core goroutines", float64(first.goroutines), float64(last.goroutines), float64(max.goroutines))
	check("plugin RSS (MiB)", mib(first.plugin.rssKiB), mib(last.plugin.rssKiB), max.pluginRSSMiB)
	check("plugin open files", float64(first.plugin.fds), float64(last.plugin.fds), float64(max.fds))
	check("plugin threads", float64(first.plugin.threads), float64(last.plugin.threads), float64(max.threads))
	check("plugin mappings", float64(first.plugin.maps), float64(last.plugin.maps), float64(max.pluginMaps))
	check("failed requests (never-unloaded models)", 0, float64(st.failed.Load()), 0)
	_ = tw.Flush()
	if last.plugin.pid != first.plugin.pid {
		fmt.Fprintf(w, "FAIL: the device plugin was restarted (pid %d, then %d)\n", first.plugin.pid, last.plugin.pid)
		failed++
	}
	if first.goroutines < 0 {
		fmt.Fprintln(w, "FAIL: no goroutine count in the log (no \"configuration applied\" line)")
		failed++
	}
	if e := st.firstErr; e != "" {
		fmt.Fprintln(w, "first failed request:", e)
	}
	fmt.Fprintf(w, "peak RSS: core %.1f MiB, plugin %.1f MiB; %d requests to the never-unloaded models, %d to the unloaded-and-loaded ones (%d failed while unloaded); %d load/unload cycles, %d config rewrites, %d churn operations failed\n",
		mib(last.core.hwmKiB), mib(last.plugin.hwmKiB), st.ok.Load()+st.failed.Load(), st.churnOK.Load()+st.churnFailed.Load(), st.churnFailed.Load(),
		st.cycles.Load(), st.rewrites.Load(), st.churnErrs.Load())
	if failed > 0 || st.churnErrs.Load() > 0 {
		fmt.Fprintf(w, "soak: FAIL (%d checks)\n", failed)
		return 1
	}
	fmt.Fprintln(w, "soak: PASS")
	return 0
}
