package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ovmsgo/ovms/cli/bench"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// dummyRequest is a KServe request for a dummy-sized scale model: "b" FP32
// [1,10].
func dummyRequest(model string) *kpb.ModelInferRequest {
	return &kpb.ModelInferRequest{ModelName: model,
		Inputs:           []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		RawInputContents: [][]byte{make([]byte, 40)}}
}

// grpcClient dials addr.
func grpcClient(addr string) (kpb.GRPCInferenceServiceClient, func(), error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return kpb.NewGRPCInferenceServiceClient(conn), func() { _ = conn.Close() }, nil
}

// levelOf summarizes latencies as a one-client level.
func levelOf(lat []time.Duration, errs int64, first string, d time.Duration, clients int) bench.Level {
	sum := bench.Summarize(slices.Clone(lat), errs, d)
	return bench.Level{Concurrency: clients, Throughput: sum.Throughput, P50: sum.P50, P90: sum.P90, P99: sum.P99, Max: sum.Max,
		Mean: sum.Mean, Count: sum.Count, Errors: sum.Errors, FirstError: first, Stable: true, Windows: 1}
}

// record adds a measurement made outside s.measure.
func (s *suite) record(name string, l bench.Level, err error) *measurement {
	m := &measurement{Name: name, Level: l}
	if err != nil {
		m.Err = err.Error()
	}
	s.measured[name] = m
	s.order = append(s.order, m)
	return m
}

// scaleOverhead measures scaleProbe, 1 client over KServe gRPC, on the
// ovms serving every scale model (big) and on the one serving it alone
// (one), both running, in alternating blocks of requests (which of the two
// goes first alternates too): the target is the median over block pairs of
// the ratio of their median latencies (big / one), which load drifting on
// a shared machine does not skew.
func (s *suite) scaleOverhead(big, one *scaleOVMS) {
	t := target{Group: "scale", Name: scaleTargetNames()[tOverhead], Unit: "x", Limit: 1.05}
	defer func() { s.targets = append(s.targets, t) }()
	fmt.Fprintf(s.log, "measuring %s on ovms with %d models and alone, interleaved\n", scaleProbe, scaleModels)
	var clients [2]kpb.GRPCInferenceServiceClient
	for i, p := range []*scaleOVMS{big, one} {
		c, closeConn, err := grpcClient(p.grpcAddr)
		if err != nil {
			t.Err = err.Error()
			return
		}
		defer closeConn()
		clients[i] = c
	}
	req := dummyRequest(scaleProbe)
	warmup, window := s.load.Warmup, s.load.Window*time.Duration(max(1, s.load.MaxTrials/2))
	const block, settle = 50, 5
	infer := func(c kpb.GRPCInferenceServiceClient) func(context.Context) error {
		return func(ctx context.Context) error { _, err := c.ModelInfer(ctx, req); return err }
	}
	r := blockPairs(s.ctx, [2]func(context.Context) error{infer(clients[0]), infer(clients[1])}, block, settle, warmup, window, true)
	lat, errs, first, ratios := r.lat, r.errs, r.first, r.ratios
	var ms [2]*measurement
	for i, label := range []string{fmt.Sprintf("with %d models", scaleModels), "alone"} {
		ms[i] = s.record(fmt.Sprintf("ovms %s kserve-grpc, %s (interleaved)", scaleProbe, label), levelOf(lat[i], errs[i], first[i], window/2, 1), nil)
	}
	for _, m := range ms {
		if p := m.problem(); p != "" {
			t.Err = p
			return
		}
	}
	t.Measured = ratioMedian(ratios)
	t.Formula = fmt.Sprintf("1.05: median over %d block pairs of the ratio of their p50s; overall p50 %.1fus with %d models, %.1fus alone (%+.1fus)",
		len(ratios), us(ms[0].Level.P50), scaleModels, us(ms[1].Level.P50), us(ms[0].Level.P50-ms[1].Level.P50))
	t.Cause = ratioSpread(fmt.Sprintf("with %d models / alone", scaleModels), ratios)
}

// scaleReloadClients is how many clients send to other models during the
// reload measurement.
const scaleReloadClients = 2

// timedRequest is one request of the reload measurement: when it started
// and ended, relative to the measurement's start.
type timedRequest struct {
	start, end time.Duration
	err        error
}

// overlaps reports whether r ran at some time within [from, to].
func (r timedRequest) overlaps(from, to time.Duration) bool { return r.start <= to && r.end >= from }

// reloadOthers are dummy-sized scale models the reload's clients send to
// (not the probe, not the reloaded model).
func reloadOthers(entries []scaleEntry, n int) []string {
	var out []string
	for _, e := range entries {
		if e.Kind == "dummy" && e.Name != scaleProbe && e.Name != scaleReload && len(out) < n {
			out = append(out, e.Name)
		}
	}
	return out
}

// logFields parses a logrus text line (key=value, values quoted when they
// have spaces) into its fields.
func logFields(line string) map[string]string {
	f := map[string]string{}
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			break
		}
		key, rest := line[:eq], line[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && (rest[end] != '"' || rest[end-1] == '\\') {
				end++
			}
			val, line = strings.ReplaceAll(rest[1:min(end, len(rest))], `\"`, `"`), rest[min(end+1, len(rest)):]
		} else {
			sp := strings.IndexByte(rest, ' ')
			if sp < 0 {
				sp = len(rest)
			}
			val, line = rest[:sp], rest[sp:]
		}
		f[key] = val
	}
	return f
}

// modelLines reads the lines of an ovms log that name a model (the model
// field, without the "@generation" the plugin adds): the model's name and
// the fields of each line.
func modelLines(log string) (names []string, fields []map[string]string) {
	for _, line := range strings.Split(log, "\n") {
		f := logFields(line)
		m, ok := f["model"]
		if !ok {
			continue
		}
		if at := strings.IndexByte(m, '@'); at >= 0 {
			m = m[:at]
		}
		names, fields = append(names, m), append(fields, f)
	}
	return names, fields
}

// logTimeLayout is the timestamp of ovms's log lines (core/logging).
const logTimeLayout = "2006-01-02 15:04:05.000"

// reloadSeen is what the ovms log shows of one reload of a model.
type reloadSeen struct {
	// loaded and compiled are the model's version load time ("model
	// version loaded" took) and the plugin's compile time ("model
	// compiled" took).
	loaded, compiled time.Duration
	// others are the other models the lines name.
	others []string
	// changed, done and applied are the times of the lines "configuration
	// file changed; applying it", the model's "model version loaded" and
	// "configuration applied" (zero when missing).
	changed, done, applied time.Time
}

// reloadLog reads the log lines of one reload of model.
func reloadLog(log, model string) reloadSeen {
	var r reloadSeen
	at := func(f map[string]string) time.Time {
		t, _ := time.ParseInLocation(logTimeLayout, f["time"], time.Local)
		return t
	}
	for _, line := range strings.Split(log, "\n") {
		f := logFields(line)
		switch f["msg"] {
		case "configuration file changed; applying it":
			r.changed = at(f)
			continue
		case "configuration applied":
			r.applied = at(f)
			continue
		}
		name, ok := f["model"]
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		if name != model {
			if !slices.Contains(r.others, name) {
				r.others = append(r.others, name)
			}
			continue
		}
		d, err := time.ParseDuration(f["took"])
		if err != nil {
			continue
		}
		switch f["msg"] {
		case "model version loaded":
			r.loaded, r.done = d, at(f)
		case "model compiled":
			r.compiled = d
		}
	}
	return r
}

// phases splits a reload's time by its log lines: from the config write
// (wrote) to "configuration file changed", from there to the model's
// version loaded, and from there to "configuration applied"; "" when a
// line is missing.
func (r reloadSeen) phases(wrote time.Time) string {
	if r.changed.IsZero() || r.done.IsZero() || r.applied.IsZero() {
		return ""
	}
	return fmt.Sprintf("%.0f/%.0f/%.0fms", ms(r.changed.Sub(wrote)), ms(r.done.Sub(r.changed)), ms(r.applied.Sub(r.done)))
}

// scaleReload changes scaleReload's configuration (its plugin_config, set
// and removed in turn) while scaleReloadClients clients send to other
// dummy-sized models, and asks ovms to apply it (POST /v1/config/reload;
// the file poll may apply it first: the call then waits for it). Each
// reload is timed from the write of config.json to the answer, after
// which the new configuration serves; the model's own load time is its
// "model version loaded" line in the same reload.
func (s *suite) scaleReload(big *scaleOVMS, set *scaleSet) {
	g := "scale"
	names := scaleTargetNames()
	timeT := target{Group: g, Name: names[tReload], Unit: "s"}
	othersT := target{Group: g, Name: names[tOthers], Unit: "models"}
	p99T := target{Group: g, Name: names[tP99], Unit: "x", Limit: 2}
	defer func() { s.targets = append(s.targets, timeT, othersT, p99T) }()
	setErr := func(err error) { timeT.Err, othersT.Err, p99T.Err = err.Error(), err.Error(), err.Error() }
	reloads, before := 8, 2*time.Second
	if s.opt.quick {
		reloads, before = 2, 500*time.Millisecond
	}
	fmt.Fprintf(s.log, "measuring %d reloads of %s with %d clients on other models\n", reloads, scaleReload, scaleReloadClients)
	changed, err := scaleConfigJSON(set.entries, map[string]map[string]any{scaleReload: {"plugin_config": map[string]string{"PERFORMANCE_HINT": "LATENCY"}}})
	if err != nil {
		setErr(err)
		return
	}
	original, err := os.ReadFile(set.cfg)
	if err != nil {
		setErr(err)
		return
	}
	defer os.WriteFile(set.cfg, original, 0o644)
	client, closeConn, err := grpcClient(big.grpcAddr)
	if err != nil {
		setErr(err)
		return
	}
	defer closeConn()

	// The clients: each goes round the other models, recording every
	// request until stop is closed.
	others := reloadOthers(set.entries, 8)
	begin := time.Now()
	stop := make(chan struct{})
	reqs := make([][]timedRequest, scaleReloadClients)
	for c := range reqs {
		// Room for the whole run: growing a slice copies it, a stall of
		// the client that is no one else's.
		reqs[c] = make([]timedRequest, 0, 1<<17)
	}
	var wg sync.WaitGroup
	for c := range scaleReloadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.WithoutCancel(s.ctx)
			for k := c; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				st := time.Since(begin)
				_, err := client.ModelInfer(ctx, dummyRequest(others[k%len(others)]))
				reqs[c] = append(reqs[c], timedRequest{start: st, end: time.Since(begin), err: err})
			}
		}()
	}
	// The suite's own work (reading the CPU times in /proc, the log) takes
	// a CPU for a millisecond or two: it is done a quiet gap away from every
	// measured window, so that the requests measured there do not wait
	// for it (it stalled the requests at the edges of every reload, about
	// 2% of those measured, when it was done at the reload's start and end).
	quiet := 50 * time.Millisecond
	warm := 500 * time.Millisecond
	time.Sleep(warm)
	cpuBefore := ovmsCPU(big.cmd.Process.Pid)
	time.Sleep(quiet)
	beforeFrom := time.Since(begin)
	time.Sleep(before)
	beforeTo := time.Since(begin)
	time.Sleep(quiet)
	cpuBefore = ovmsCPU(big.cmd.Process.Pid).minus(cpuBefore)
	cpuBeforeSpan := time.Since(begin) - beforeFrom + quiet
	var cpuDuring cpuTicks
	var cpuSpan time.Duration
	type window struct{ from, to time.Duration }
	var windows, controls []window
	var took, loaded, compiled []time.Duration
	var touched, phases []string
	httpc := &http.Client{Timeout: readyTimeout}
	for r := 0; r < reloads && s.ctx.Err() == nil; r++ {
		// A control window as long as the last reload, without one: what
		// the machine alone does to the requests at this time.
		length := 150 * time.Millisecond
		if len(took) > 0 {
			length = took[len(took)-1]
		}
		cfrom := time.Since(begin)
		time.Sleep(length)
		controls = append(controls, window{cfrom, time.Since(begin)})
		time.Sleep(quiet)
		body := changed
		if r%2 == 1 {
			body = original
		}
		offset := big.out.Len()
		cpu0, cpuFrom := ovmsCPU(big.cmd.Process.Pid), time.Since(begin)
		time.Sleep(quiet)
		wrote, from := time.Now(), time.Since(begin)
		err := os.WriteFile(set.cfg, body, 0o644)
		if err == nil {
			err = postReload(httpc, big.restURL)
		}
		to := time.Since(begin)
		if err != nil {
			close(stop)
			wg.Wait()
			setErr(fmt.Errorf("reload %d: %w", r+1, err))
			return
		}
		windows, took = append(windows, window{from, to}), append(took, to-from)
		time.Sleep(quiet)
		cpuDuring, cpuSpan = cpuDuring.plus(ovmsCPU(big.cmd.Process.Pid).minus(cpu0)), cpuSpan+time.Since(begin)-cpuFrom
		time.Sleep(300*time.Millisecond - quiet) // the log lines of the reload, and a pause before the next
		seen := reloadLog(big.out.From(offset), scaleReload)
		time.Sleep(quiet)
		if seen.loaded == 0 {
			close(stop)
			wg.Wait()
			setErr(fmt.Errorf("reload %d: no \"model version loaded\" line for %s in ovms's log", r+1, scaleReload))
			return
		}
		loaded, compiled, phases = append(loaded, seen.loaded), append(compiled, seen.compiled), append(phases, seen.phases(wrote))
		for _, m := range seen.others {
			if !slices.Contains(touched, m) {
				touched = append(touched, m)
			}
		}
	}
	close(stop)
	wg.Wait()
	if s.ctx.Err() != nil {
		setErr(s.ctx.Err())
		return
	}

	var latBefore, latDuring, latControl []time.Duration
	var failed int64
	var firstErr string
	for _, rs := range reqs {
		for _, r := range rs {
			if r.err != nil {
				if failed++; firstErr == "" {
					firstErr = r.err.Error()
				}
				continue
			}
			if r.start >= beforeFrom && r.end <= beforeTo {
				latBefore = append(latBefore, r.end-r.start)
			}
			if slices.ContainsFunc(windows, func(w window) bool { return r.overlaps(w.from, w.to) }) {
				latDuring = append(latDuring, r.end-r.start)
			}
			if slices.ContainsFunc(controls, func(w window) bool { return r.overlaps(w.from, w.to) }) {
				latControl = append(latControl, r.end-r.start)
			}
		}
	}
	var during, control time.Duration
	for _, w := range windows {
		during += w.to - w.from
	}
	for _, w := range controls {
		control += w.to - w.from
	}
	mb := s.record(fmt.Sprintf("ovms scale models kserve-grpc, %d clients, before the reloads", scaleReloadClients),
		levelOf(latBefore, 0, "", beforeTo-beforeFrom, scaleReloadClients), nil)
	md := s.record(fmt.Sprintf("ovms scale models kserve-grpc, %d clients, during the %d reloads", scaleReloadClients, len(windows)),
		levelOf(latDuring, failed, firstErr, during, scaleReloadClients), nil)
	mc := s.record(fmt.Sprintf("ovms scale models kserve-grpc, %d clients, in as long windows without a reload, between them", scaleReloadClients),
		levelOf(latControl, 0, "", control, scaleReloadClients), nil)

	var slowest []string
	for _, w := range windows {
		var worst time.Duration
		for _, rs := range reqs {
			for _, r := range rs {
				if r.overlaps(w.from, w.to) {
					worst = max(worst, r.end-r.start)
				}
			}
		}
		slowest = append(slowest, fmt.Sprintf("%.0f/%.0fms", ms(w.to-w.from), ms(worst)))
	}
	fmt.Fprintf(s.log, "scale reloads: write to changed/loaded/applied %s; reload/slowest overlapping request %s\n", strings.Join(phases, ", "), strings.Join(slowest, ", "))
	mTook, mLoaded := median(slices.Clone(took)), median(slices.Clone(loaded))
	timeT.Measured, timeT.Limit = mTook.Seconds(), 2*mLoaded.Seconds()
	timeT.Formula = fmt.Sprintf("2 x the model's own load in the same reloads (\"model version loaded\" took %s; plugin compile %s); medians of %d reloads (%s)",
		fmtRuns(loaded), fmtRuns(compiled), len(took), fmtRuns(took))
	timeT.Cause = "per reload, from the config write to ovms's \"configuration file changed\" line / to the model's version loaded / to \"configuration applied\" (log times, ms resolution): " +
		strings.Join(phases, ", ")
	othersT.Measured = float64(len(touched))
	othersT.Formula = fmt.Sprintf("0: lines naming a model in ovms's INFO log from each config write to 300 ms after its reload; others: [%s]", strings.Join(touched, " "))
	if failed > 0 {
		p99T.Err = fmt.Sprintf("%d requests to other models failed during the reload measurement, first: %s", failed, oneLine(firstErr))
		return
	}
	if p := mb.problem(); p != "" {
		p99T.Err = p
		return
	}
	if md.Level.Count == 0 {
		p99T.Err = "no request ran during a reload"
		return
	}
	p99T.Measured = float64(md.Level.P99) / float64(mb.Level.P99)
	p99T.Formula = fmt.Sprintf("2: p99 %.1fus over the %d requests that overlapped a reload / %.1fus over %d in %s before; %d clients round %d dummy-sized models",
		us(md.Level.P99), md.Level.Count, us(mb.Level.P99), mb.Level.Count, before, scaleReloadClients, len(others))
	p99T.Cause = fmt.Sprintf("during the reloads (%.0fms in all) the clients got %.0f answers/s against %.0f/s before, the slowest in %.1fms; CPU used (cores busy): ovms core %.2f, plugin %.2f from 50 ms before each reload to 50 ms after it, against %.2f and %.2f before; in as long windows without a reload, between the reloads, p99 %.1fus (%.2fx before), the slowest %.1fms; load average %s",
		ms(during), md.Level.Throughput, mb.Level.Throughput, ms(md.Level.Max), cpuDuring.cores(cpuSpan, true), cpuDuring.cores(cpuSpan, false),
		cpuBefore.cores(cpuBeforeSpan, true), cpuBefore.cores(cpuBeforeSpan, false), us(mc.Level.P99), float64(mc.Level.P99)/float64(mb.Level.P99), ms(mc.Level.Max), loadAverage())
	if math.IsNaN(p99T.Measured) {
		p99T.Err = "no p99"
	}
}

// postReload asks ovms to apply its config file now.
func postReload(c *http.Client, restURL string) error {
	resp, err := c.Post(restURL+"/v1/config/reload", "application/json", nil)
	if err != nil {
		return fmt.Errorf("POST /v1/config/reload: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return fmt.Errorf("POST /v1/config/reload: %s: %s", resp.Status, b.String())
	}
	return nil
}

// cpuTicks is the CPU time of ovms's core and of its plugins, in clock
// ticks (utime + stime of /proc/PID/stat).
type cpuTicks struct{ core, plugins int64 }

// clockTicks is the kernel's USER_HZ, 100 on Linux.
const clockTicks = 100

// ovmsCPU reads the CPU time ovms (pid) and its plugins have used so far.
func ovmsCPU(pid int) cpuTicks {
	c := cpuTicks{core: procTicks(pid)}
	for _, p := range descendants(pid) {
		c.plugins += procTicks(p)
	}
	return c
}

func (c cpuTicks) minus(o cpuTicks) cpuTicks { return cpuTicks{c.core - o.core, c.plugins - o.plugins} }
func (c cpuTicks) plus(o cpuTicks) cpuTicks  { return cpuTicks{c.core + o.core, c.plugins + o.plugins} }

// cores is the CPU time of the core (or of the plugins) over d: how many
// cores it kept busy on average.
func (c cpuTicks) cores(d time.Duration, core bool) float64 {
	t := c.plugins
	if core {
		t = c.core
	}
	if d <= 0 {
		return math.NaN()
	}
	return float64(t) / clockTicks / d.Seconds()
}

// procTicks is a process's utime + stime in clock ticks, 0 if unknown.
func procTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return statCPU(string(data))
}

// statCPU reads utime + stime (fields 14 and 15) of a /proc/PID/stat line;
// the command name (field 2) is in parentheses and may hold spaces.
func statCPU(stat string) int64 {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0
	}
	f := strings.Fields(stat[end+1:]) // from field 3, the state
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// loadAverage is the first three figures of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
