package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/pluginhost"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"google.golang.org/protobuf/encoding/protowire"
)

// The scale group (issue 16 item 1): ovms serving scaleModels small models
// from one generated config.json, against the raw engine creating the same
// sessions in one fresh process.
const (
	scaleModels = 200
	// scaleDir is the folder under the models directory that holds the
	// generated models and configs.
	scaleDir = "scale"
)

// scaleKinds are the model files the scale models are copies of, by kind:
// dummy-sized adders and two small CNNs (scripts/testmodels).
var scaleKinds = map[string]string{"dummy": "dummy", "tiny": "scale_cnn_tiny", "small": "scale_cnn_small"}

// scaleEntry is one model of the scale config.
type scaleEntry struct {
	Name     string
	Kind     string // a key of scaleKinds
	Versions int
}

// scaleLayout is the scale group's n models, scale_000 onwards, of the
// kinds dummy, dummy, tiny, small in turn (half dummy-sized, a quarter of
// each CNN), every 10th model (from scale_000) with 3 versions.
func scaleLayout(n int) []scaleEntry {
	kinds := []string{"dummy", "dummy", "tiny", "small"}
	out := make([]scaleEntry, n)
	for i := range out {
		out[i] = scaleEntry{Name: fmt.Sprintf("scale_%03d", i), Kind: kinds[i%len(kinds)], Versions: 1}
		if i%10 == 0 {
			out[i].Versions = 3
		}
	}
	return out
}

// The scale models with a role: the one measured per request (dummy-sized,
// one version) and the one whose configuration the reload changes (a small
// CNN, one version).
const (
	scaleProbe  = "scale_001"
	scaleReload = "scale_003"
)

// scaleConfigJSON is a config.json serving entries from folders named like
// them next to the file, every version of the models that have several
// (model_version_policy all; OVMS serves the latest only by default); extra
// adds fields to some models' "config" objects (the reload's change).
func scaleConfigJSON(entries []scaleEntry, extra map[string]map[string]any) ([]byte, error) {
	type cfg struct {
		Config map[string]any `json:"config"`
	}
	list := make([]cfg, len(entries))
	for i, e := range entries {
		c := map[string]any{"name": e.Name, "base_path": e.Name}
		if e.Versions > 1 {
			c["model_version_policy"] = map[string]any{"all": map[string]any{}}
		}
		for k, v := range extra[e.Name] {
			c[k] = v
		}
		list[i] = cfg{c}
	}
	b, err := json.MarshalIndent(map[string]any{"model_config_list": list}, "", " ")
	if err != nil {
		return nil, fmt.Errorf("scale config: %w", err)
	}
	return append(b, '\n'), nil
}

// sessionCount is the number of versions (sessions) of entries.
func sessionCount(entries []scaleEntry) int {
	n := 0
	for _, e := range entries {
		n += e.Versions
	}
	return n
}

// modelDocString is ModelProto's doc_string field (onnx.proto).
const modelDocString = 6

// tagged is the serialized ONNX model with doc_string set to tag: the field
// appended at the end, where a parser takes it as the last (winning) value
// of the field.
func tagged(model []byte, tag string) []byte {
	out := slices.Clip(model)
	out = protowire.AppendTag(out, modelDocString, protowire.BytesType)
	return protowire.AppendString(out, tag)
}

// writeIfChanged writes data to path unless the file already holds it.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// scaleSet is the generated scale repository.
type scaleSet struct {
	dir     string       // <models>/scale
	entries []scaleEntry // the models of config.json
	cfg     string       // config.json: every model
	one     string       // one.json: scaleProbe alone
	files   []string     // every version's model file, in config order
	probe   string       // scaleProbe's model file
}

// prepareScaleModels writes the scale models, config.json and one.json
// under <modelsDir>/scale; files already holding the same bytes are left
// alone. Every version is its kind's bench model with the model's name as
// the ModelProto's doc_string (tagged), so that each model is a distinct
// file, as the models of a real server are, while the versions of one
// model are the same file (what the CPU plugin shares prepacked weights
// between).
func prepareScaleModels(modelsDir string, n int) (*scaleSet, error) {
	set := &scaleSet{dir: filepath.Join(modelsDir, scaleDir), entries: scaleLayout(n)}
	src := map[string][]byte{}
	for kind, model := range scaleKinds {
		b, err := os.ReadFile(filepath.Join(modelsDir, model, "1", "model.onnx"))
		if err != nil {
			return nil, fmt.Errorf("scale models: %w", err)
		}
		src[kind] = b
	}
	for _, e := range set.entries {
		data := tagged(src[e.Kind], e.Name)
		for v := 1; v <= e.Versions; v++ {
			path := filepath.Join(set.dir, e.Name, strconv.Itoa(v), "model.onnx")
			if err := writeIfChanged(path, data); err != nil {
				return nil, fmt.Errorf("scale models: %w", err)
			}
			set.files = append(set.files, path)
			if e.Name == scaleProbe {
				set.probe = path
			}
		}
	}
	set.cfg, set.one = filepath.Join(set.dir, "config.json"), filepath.Join(set.dir, "one.json")
	all, err := scaleConfigJSON(set.entries, nil)
	if err != nil {
		return nil, err
	}
	one, err := scaleConfigJSON([]scaleEntry{{Name: scaleProbe, Kind: "dummy", Versions: 1}}, nil)
	if err != nil {
		return nil, err
	}
	if err := writeIfChanged(set.cfg, all); err != nil {
		return nil, fmt.Errorf("scale config: %w", err)
	}
	if err := writeIfChanged(set.one, one); err != nil {
		return nil, fmt.Errorf("scale config: %w", err)
	}
	if set.probe == "" {
		return nil, fmt.Errorf("scale models: %s is not among the %d", scaleProbe, n)
	}
	return set, nil
}

// engineSharedPools says whether the engine baseline runs its sessions on
// ONNX Runtime's environment-level thread pools, as the CPU plugin runs
// default models (issue 16 item 2), or each session on its own pool.
const engineSharedPools = true

// scaleEngineOptions sets up the engine process's thread pools as the CPU
// plugin does by default (before any session: call it first) and returns
// the options every session is created with: one stream with an intra-op
// thread per core; shared, one pool for every session (spinning off),
// else a pool per session (spinning stopped after runs). No prepacked
// weights container is shared, as in the CPU plugin (devices/cpu: ONNX
// Runtime caches prepacked weights only for shared initializers).
func scaleEngineOptions(shared bool) (ort.SessionOptions, error) {
	if !shared {
		return ort.SessionOptions{IntraOpThreads: engineThreads(), ConfigEntries: map[string]string{"session.force_spinning_stop": "1"}}, nil
	}
	if err := ort.SetGlobalThreadPools(ort.GlobalThreadPools{IntraOpThreads: engineThreads(), InterOpThreads: 1}); err != nil {
		return ort.SessionOptions{}, fmt.Errorf("engine: %w", err)
	}
	return ort.SessionOptions{UseGlobalThreadPools: true}, nil
}

// engineScaleFlag makes benchsuite a fresh engine process for the scale
// group: it creates the sessions of the files given (parallel at once, on
// shared or own thread pools), prints "ready", collects its garbage,
// prints its VmRSS in KiB and exits with the sessions open.
const engineScaleFlag = "-engine-scale"

// engineScaleMain is the child's side of engineScaleFlag: args are
// "shared" or "own", the parallelism and the model files.
func engineScaleMain(args []string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 1
	}
	if len(args) < 3 {
		return fail(errors.New("usage: " + engineScaleFlag + " shared|own PARALLEL FILE..."))
	}
	parallel, err := strconv.Atoi(args[1])
	if err != nil {
		return fail(err)
	}
	if err := ort.Init(""); err != nil {
		return fail(fmt.Errorf("engine: %w", err))
	}
	opts, err := scaleEngineOptions(args[0] == "shared")
	if err != nil {
		return fail(err)
	}
	files := args[2:]
	sessions := make([]*ort.Session, len(files))
	errs := make([]error, len(files))
	slots := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	for i := range files {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			data, err := os.ReadFile(files[i])
			if err == nil {
				sessions[i], err = ort.NewSession(data, opts)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", files[i], err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Println(vmRSS(os.Getpid()))
	runtime.KeepAlive(sessions)
	return 0
}

// engineScale is a fresh engine process creating the sessions of files
// (parallel at once, with the plugin's malloc setting, on shared thread
// pools or each on its own): the time from its launch to every session
// created, and its resident memory then, after a garbage collection (KiB).
func engineScale(files []string, parallel int, shared bool) (time.Duration, int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	pools := map[bool]string{true: "shared", false: "own"}[shared]
	cmd := exec.Command(exe, append([]string{engineScaleFlag, pools, strconv.Itoa(parallel)}, files...)...)
	cmd.Env = pluginhost.WithMallocTunables(os.Environ())
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("engine in a fresh process: %w", err)
	}
	r := bufio.NewReader(out)
	line, _ := r.ReadString('\n')
	took := time.Since(start)
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil || strings.TrimSpace(line) != "ready" {
		return 0, 0, fmt.Errorf("engine in a fresh process: %v: %s", err, strings.TrimSpace(errOut.String()))
	}
	rss, err := strconv.ParseInt(strings.TrimSpace(string(rest)), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("engine in a fresh process: its RSS: %w", err)
	}
	return took, rss, nil
}

// statusKiB reads a field in kB (KiB) of a /proc/PID/status text, such as
// "VmRSS"; 0 when absent.
func statusKiB(status, field string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// vmRSS is a process's resident set size in KiB, 0 if unknown.
func vmRSS(pid int) int64 { return procStatusKiB(pid, "VmRSS") }

// procStatusKiB is a KiB field of a process's /proc/PID/status, 0 if
// unknown.
func procStatusKiB(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return statusKiB(string(data), field)
}

// descendants lists the processes below pid (ovms's device plugins).
func descendants(pid int) []int {
	var out []int
	var walk func(int)
	walk = func(p int) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, t := range tasks {
			data, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(data)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
					walk(c)
				}
			}
		}
	}
	walk(pid)
	return out
}

// rssPair is the resident memory of ovms's core and of its plugins
// together, in KiB.
type rssPair struct{ core, plugins int64 }

// ovmsRSS reads the RSS of ovms (pid) and its plugins once they settle:
// after a second, sampled every 250 ms until two samples in a row differ
// by under 1% (at most 4 s more).
func ovmsRSS(pid int) rssPair {
	read := func() rssPair {
		p := rssPair{core: vmRSS(pid)}
		for _, c := range descendants(pid) {
			p.plugins += vmRSS(c)
		}
		return p
	}
	time.Sleep(time.Second)
	last := read()
	for range 16 {
		time.Sleep(250 * time.Millisecond)
		cur := read()
		steady := func(a, b int64) bool { return math.Abs(float64(a-b)) < 0.01*float64(max(a, b, 1)) }
		if steady(cur.core, last.core) && steady(cur.plugins, last.plugins) {
			return cur
		}
		last = cur
	}
	return last
}

// perModel is (with n models - with 1) / (n - 1): the memory one more
// model costs, in the unit of the figures.
func perModel(withN, withOne int64, n int) float64 {
	if n < 2 {
		return math.NaN()
	}
	return float64(withN-withOne) / float64(n-1)
}

// scaleOVMS is one ovms serving a scale config, started with --log_level
// INFO so that its model lines can be read.
type scaleOVMS struct {
	*ovmsProc
	launched time.Time     // when the process was started
	startup  time.Duration // launch to every model AVAILABLE
}

// startScaleOVMS starts ovms with cfg and waits until n models have a
// version AVAILABLE (GET /v1/config). It polls the cheap /v2/health/ready
// until ovms is ready (its first load done) and only then /v1/config:
// rendering and parsing the status of 200 models takes milliseconds of
// CPU, which polling it all along would take from the loads.
func startScaleOVMS(binDir, cfg string, n int, extra ...string) (*scaleOVMS, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	p, start, err := spawnOVMS(binDir, ports[0], ports[1], "INFO", append([]string{"--config_path", cfg}, extra...))
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Since(start) < readyTimeout {
		select {
		case <-p.done:
			return nil, fmt.Errorf("ovms exited during startup (%v): %s", p.cmd.ProcessState, lastLines(p.out.String(), 5))
		default:
		}
		if ready(client, p.restURL) && available(client, p.restURL+"/v1/config") == n {
			return &scaleOVMS{ovmsProc: p, launched: start, startup: time.Since(start)}, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = p.stop()
	return nil, fmt.Errorf("not every model AVAILABLE after %v: %s", readyTimeout, lastLines(p.out.String(), 5))
}

// ready reports whether ovms answers /v2/health/ready with 200.
func ready(client *http.Client, restURL string) bool {
	resp, err := client.Get(restURL + "/v2/health/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ratioMedian is the median of ratios; NaN for none.
func ratioMedian(ratios []float64) float64 {
	if len(ratios) == 0 {
		return math.NaN()
	}
	r := slices.Clone(ratios)
	slices.Sort(r)
	return r[len(r)/2]
}

// The scale group's targets, in the order they are reported (indexes into
// scaleTargetNames).
const (
	tStartup = iota
	tCoreRSS
	tPluginRSS
	tOverhead
	tReload
	tOthers
	tP99
)

// scaleTargetNames are the names of the scale group's targets.
func scaleTargetNames() []string {
	entries := scaleLayout(scaleModels)
	return []string{
		fmt.Sprintf("%d models (%d versions): launch to all AVAILABLE, / a fresh engine process", len(entries), sessionCount(entries)),
		"core RSS per loaded model",
		"plugin RSS per loaded model",
		fmt.Sprintf("%s p50, KServe gRPC, 1 client: with %d models / alone", scaleProbe, scaleModels),
		fmt.Sprintf("reload changing %s's config (a small CNN) among %d, %d clients on others: config write to applied", scaleReload, scaleModels, scaleReloadClients),
		"models other than the changed one that the reload touched (ovms INFO log lines)",
		"other models' p99 during the reloads / before",
	}
}

// scaleFail records every scale target not recorded yet as failed with
// err (the group stopped).
func (s *suite) scaleFail(err error) {
	for _, name := range scaleTargetNames() {
		if !slices.ContainsFunc(s.targets, func(t target) bool { return t.Group == "scale" && t.Name == name }) {
			s.targets = append(s.targets, target{Group: "scale", Name: name, Err: err.Error()})
		}
	}
}

// scaleGroup runs the scale group: it generates the models, measures the
// engine and ovms startup with them in alternating rounds, then with the
// last ovms kept running (and one serving scaleProbe alone) the memory,
// the per-request overhead and a reload.
func (s *suite) scaleGroup() {
	s.servers.close()
	g, names := "scale", scaleTargetNames()
	fmt.Fprintf(s.log, "generating the %d scale models (load average %s)\n", scaleModels, loadAverage())
	set, err := prepareScaleModels(s.opt.modelsDir, scaleModels)
	if err != nil {
		s.scaleFail(err)
		return
	}
	n, sessions := len(set.entries), len(set.files)
	par := modelmanager.DefaultLoadParallelism()
	rounds := 5
	if s.opt.quick {
		rounds = 1
	}
	var engTimes, ovTimes []time.Duration
	var engRSS, engOneRSS []int64
	var big *scaleOVMS
	defer func() {
		if big != nil {
			_ = big.stop()
		}
	}()
	for r := 0; r < rounds && s.ctx.Err() == nil; r++ {
		fmt.Fprintf(s.log, "measuring startup with %d scale models, round %d of %d\n", n, r+1, rounds)
		d, rss, err := engineScale(set.files, par, engineSharedPools)
		if err == nil {
			engTimes, engRSS = append(engTimes, d), append(engRSS, rss)
			_, rss, err = engineScale([]string{set.probe}, par, engineSharedPools)
			engOneRSS = append(engOneRSS, rss)
		}
		if err != nil {
			s.scaleFail(err)
			return
		}
		if big != nil {
			_ = big.stop()
		}
		if big, err = startScaleOVMS(s.opt.binDir, set.cfg, n); err != nil {
			s.scaleFail(err)
			return
		}
		ovTimes = append(ovTimes, big.startup)
	}
	if s.ctx.Err() != nil {
		s.scaleFail(s.ctx.Err())
		return
	}
	// Context for a miss: the engine with the other thread pool setting,
	// and the plugin's compile times from the last ovms's log.
	other, otherErr := time.Duration(0), errors.New("not measured with -quick")
	if !s.opt.quick {
		other, _, otherErr = engineScale(set.files, par, !engineSharedPools)
	}
	fmt.Fprintf(s.log, "scale, %d models (%d sessions): engine in a fresh process %d at once %s (%s; %s: %s, err %v); ovms %s\n",
		n, sessions, par, fmtRuns(engTimes), engineBaselinePools(engineSharedPools), engineBaselinePools(!engineSharedPools), fmtRuns([]time.Duration{other}), otherErr, fmtRuns(ovTimes))
	// The figure is the median of the rounds' ratios: each round's ovms
	// launch follows its engine process, so load drifting on a shared
	// machine hits both alike.
	mEng, mOv := median(slices.Clone(engTimes)), median(slices.Clone(ovTimes))
	cause := "load average " + loadAverage()
	if c := startupCause(big.out.String(), big.launched, sessions, par, other, otherErr); c != "" {
		cause = "the last round's ovms: " + c + "; " + cause
	}
	s.targets = append(s.targets, target{Group: g, Name: names[tStartup], Measured: ratioMedian(pairRatios(ovTimes, engTimes)), Limit: 1.3, Unit: "x",
		Formula: fmt.Sprintf("1.3: median over %d alternating rounds of ovms / a fresh engine process creating the %d sessions %d at once (%s), launch to all created; medians ovms %.3fs, engine %.3fs",
			len(ovTimes), sessions, par, engineBaselinePools(engineSharedPools), mOv.Seconds(), mEng.Seconds()),
		Cause: cause})

	// Memory: the ovms of the last round against one serving the probe
	// model alone.
	one, err := startScaleOVMS(s.opt.binDir, set.one, 1)
	if err != nil {
		s.scaleFail(fmt.Errorf("ovms serving %s alone: %w", scaleProbe, err))
		return
	}
	defer one.stop()
	bigRSS, oneRSS := ovmsRSS(big.cmd.Process.Pid), ovmsRSS(one.cmd.Process.Pid)
	eN, e1 := medianInt(engRSS), medianInt(engOneRSS)
	corePer := perModel(bigRSS.core, oneRSS.core, n)
	plugPer, engPer := perModel(bigRSS.plugins, oneRSS.plugins, n), perModel(eN, e1, n)
	fmt.Fprintf(s.log, "scale RSS (KiB): ovms core %d with %d models, %d with 1; plugins %d and %d; engine process %d and %d (medians of %d)\n",
		bigRSS.core, n, oneRSS.core, bigRSS.plugins, oneRSS.plugins, eN, e1, len(engRSS))
	s.targets = append(s.targets, target{Group: g, Name: names[tCoreRSS], Measured: corePer, Limit: 200, Unit: "KiB",
		Formula: fmt.Sprintf("(core VmRSS with %d models %d KiB - with 1 %d KiB) / %d, after all AVAILABLE and a settle; plugin: %.1f KiB per model",
			n, bigRSS.core, oneRSS.core, n-1, plugPer)})
	s.targets = append(s.targets, target{Group: g, Name: names[tPluginRSS], Measured: plugPer, Limit: 1.2 * engPer, Unit: "KiB",
		Formula: fmt.Sprintf("1.2 x the engine's %.1f KiB: (engine process VmRSS with %d sessions %d KiB - with 1 %d KiB) / %d; plugin %d KiB with %d models, %d with 1",
			engPer, sessions, eN, e1, n-1, bigRSS.plugins, n, oneRSS.plugins)})

	s.scaleOverhead(big, one)
	s.scaleReload(big, set)
}

// engineBaselinePools describes the engine's thread pools, shared or not.
func engineBaselinePools(shared bool) string {
	if shared {
		return fmt.Sprintf("on one environment-level pool of %d threads", engineThreads())
	}
	return fmt.Sprintf("each on its own pool of %d threads", engineThreads())
}

// medianInt is the median of xs (0 for none).
func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// startupCause says where ovms's startup time went, from its INFO log:
// when the plugin was started and the first and last versions loaded
// (after launched), the sum and median of the plugin's "model compiled"
// times (divided by the load parallelism, the wall time they can take)
// and the sum of the core's version load times around them, and the
// engine with the other thread pool setting (other).
func startupCause(log string, launched time.Time, sessions, par int, other time.Duration, otherErr error) string {
	var compiled []time.Duration
	var spans [][2]time.Time // each compile's start and end
	var sum, loads time.Duration
	var plugin, first, last time.Time
	for _, line := range strings.Split(log, "\n") {
		f := logFields(line)
		at, _ := time.ParseInLocation(logTimeLayout, f["time"], time.Local)
		switch f["msg"] {
		case "device plugin started":
			plugin = at
		case "model version loaded":
			if first.IsZero() {
				first = at
			}
			last = at
			if d, err := time.ParseDuration(f["took"]); err == nil {
				loads += d
			}
		case "model compiled":
			if d, err := time.ParseDuration(f["took"]); err == nil {
				compiled, sum = append(compiled, d), sum+d
				spans = append(spans, [2]time.Time{at.Add(-d), at})
			}
		}
	}
	if len(compiled) == 0 {
		return ""
	}
	msg := ""
	if !plugin.IsZero() && !first.IsZero() {
		msg = fmt.Sprintf("from launch (log times, ms): plugin started %.0fms, first version loaded %.0fms, last %.0fms; ",
			ms(plugin.Sub(launched)), ms(first.Sub(launched)), ms(last.Sub(launched)))
	}
	msg += fmt.Sprintf("the plugin's compile times (its \"model compiled\" lines, %d of %d versions) add up to %.3fs, %.3fs over %d loads at once (median %.1fms, max %.1fms)",
		len(compiled), sessions, sum.Seconds(), sum.Seconds()/float64(par), par, float64(median(compiled))/1e6, float64(slices.Max(compiled))/1e6)
	msg += fmt.Sprintf(", %d compiles running %.0f%% of the time from the first compile's start to the last one's end",
		par, 100*slotsBusy(spans, par))
	msg += fmt.Sprintf(", the core's version loads (\"model version loaded\" took, from its load call to AVAILABLE, the first ones waiting for the plugin, the others also for a compile slot in the plugin: the core keeps twice as many loads in it as it compiles at once) to %.3fs: %.1fms a version around the compile",
		loads.Seconds(), ms(loads-sum)/float64(len(compiled)))
	if otherErr == nil {
		msg += fmt.Sprintf("; the engine creating the sessions %s takes %.3fs", engineBaselinePools(!engineSharedPools), other.Seconds())
	}
	return msg
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// slotsBusy is the share of the time from the first span's start to the
// last one's end in which at least par spans ran (a span: a compile's start
// and end), counting fewer than par as that fraction of par: how busy the
// plugin's par compile slots were. The log's millisecond times make it
// approximate; 0 for no span.
func slotsBusy(spans [][2]time.Time, par int) float64 {
	if len(spans) == 0 || par < 1 {
		return 0
	}
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, s := range spans {
		edges = append(edges, edge{s[0], 1}, edge{s[1], -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same time
	})
	var busy time.Duration
	running := 0
	for i, e := range edges {
		if i > 0 {
			busy += time.Duration(float64(e.at.Sub(edges[i-1].at)) * float64(min(running, par)) / float64(par))
		}
		running += e.delta
	}
	total := edges[len(edges)-1].at.Sub(edges[0].at)
	if total <= 0 {
		return 1
	}
	return float64(busy) / float64(total)
}

// pairRatios is a[i] / b[i] for each pair of measurements.
func pairRatios(a, b []time.Duration) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, float64(a[i])/float64(b[i]))
		}
	}
	return out
}
