package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/pluginhost"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// startupModel is one model of the many-models startup measurement: a bench
// model, optionally with a fixed batch size written into its graph, so that
// the six are distinct files of realistic sizes.
type startupModel struct {
	name, from string
	batch      int64 // 0: the bench model as it is
}

// startupModels are the six models ovms loads at once: two ResNet-50s
// (100 MB each), two small CNNs (34 MB each) and two 12 MiB-input adders.
var startupModels = []startupModel{
	{"resnet50", "resnet50", 0}, {"resnet50_b2", "resnet50", 2},
	{"small_cnn", "small_cnn", 0}, {"small_cnn_b8", "small_cnn", 8},
	{"add_one", addOne, 0}, {"add_one_b2", addOne, 2},
}

// prepareStartupModels writes the six models and a config.json serving
// them under <modelsDir>/startup (files already there with the same size
// are kept) and returns the config's path and the model files.
func prepareStartupModels(modelsDir string) (string, []string, error) {
	dir := filepath.Join(modelsDir, "startup")
	var entries, files []string
	for _, m := range startupModels {
		src, err := os.ReadFile(filepath.Join(modelsDir, m.from, "1", "model.onnx"))
		if err != nil {
			return "", nil, err
		}
		data := src
		if m.batch > 0 {
			if data, err = om.ApplyReshape(src, om.Reshape{BatchSize: m.batch}); err != nil {
				return "", nil, fmt.Errorf("%s: %w", m.name, err)
			}
		}
		path := filepath.Join(dir, m.name, "1", "model.onnx")
		if st, err := os.Stat(path); err != nil || st.Size() != int64(len(data)) {
			if err := om.WriteBytes(path, data); err != nil {
				return "", nil, err
			}
		}
		files = append(files, path)
		entries = append(entries, fmt.Sprintf(`{"config": {"name": %q, "base_path": %q}}`, m.name, m.name))
	}
	cfg := filepath.Join(dir, "config.json")
	body := []byte(`{"model_config_list": [` + strings.Join(entries, ", ") + "]}\n")
	if err := os.WriteFile(cfg, body, 0o644); err != nil {
		return "", nil, err
	}
	return cfg, files, nil
}

// engineSessions is the raw engine's time to read the files and create one
// session for each, with the CPU plugin's default options (one stream with
// an intra-op thread per core, spinning stopped after runs), up to
// parallel at once (1: one after another).
func engineSessions(files []string, parallel int) (time.Duration, error) {
	if err := ort.Init(""); err != nil {
		return 0, fmt.Errorf("engine: %w", err)
	}
	opts := ort.SessionOptions{IntraOpThreads: engineThreads(), ConfigEntries: map[string]string{"session.force_spinning_stop": "1"}}
	sessions := make([]*ort.Session, len(files))
	errs := make([]error, len(files))
	slots := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range files {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			data, err := os.ReadFile(files[i])
			if err == nil {
				sessions[i], err = ort.NewSession(data, opts)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for _, s := range sessions {
		if s != nil {
			s.Close()
		}
	}
	return took, errors.Join(errs...)
}

// ovmsStartup starts bin/ovms with the config and returns the time from
// the process start to every model's version AVAILABLE (GET /v1/config).
func ovmsStartup(binDir, cfg string, n int, extra ...string) (time.Duration, error) {
	return ovmsStartupProbe(binDir, cfg, n, nil, extra...)
}

// ovmsStartupProbe is ovmsStartup calling probe (if not nil) with the ovms
// process id once every model is AVAILABLE, before ovms is stopped.
func ovmsStartupProbe(binDir, cfg string, n int, probe func(pid int), extra ...string) (time.Duration, error) {
	ports, err := freePorts(2)
	if err != nil {
		return 0, err
	}
	p, start, err := spawnOVMS(binDir, ports[0], ports[1], "ERROR", append([]string{"--config_path", cfg}, extra...))
	if err != nil {
		return 0, err
	}
	defer p.stop()
	cmd, out, done := p.cmd, p.out, p.done
	url := p.restURL + "/v1/config"
	client := &http.Client{Timeout: time.Second}
	for time.Since(start) < readyTimeout {
		select {
		case <-done:
			return 0, fmt.Errorf("ovms exited during startup (%v): %s", cmd.ProcessState, strings.TrimSpace(out.String()))
		default:
		}
		if available(client, url) == n {
			took := time.Since(start)
			if probe != nil {
				probe(cmd.Process.Pid)
			}
			return took, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("not every model AVAILABLE after %v: %s", readyTimeout, out.String())
}

// available counts the models of GET /v1/config with a version AVAILABLE.
func available(client *http.Client, url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var all map[string]struct {
		Versions []struct{ State string } `json:"model_version_status"`
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil || json.Unmarshal(buf.Bytes(), &all) != nil {
		return 0
	}
	n := 0
	for _, m := range all {
		if slices.ContainsFunc(m.Versions, func(v struct{ State string }) bool { return v.State == "AVAILABLE" }) {
			n++
		}
	}
	return n
}

// median is the middle of ds (sorted in place).
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// fmtRuns lists durations in seconds.
func fmtRuns(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.3fs", d.Seconds()))
	}
	return strings.Join(s, ", ")
}

// engineSessionsFlag makes benchsuite a fresh engine process: it loads
// ONNX Runtime, creates the sessions of the files given (parallel at once)
// and exits; the parent times it from launch to exit, as it times ovms.
const engineSessionsFlag = "-engine-sessions"

// engineSessionsMain is the child's side of engineSessionsFlag: args are
// the parallelism and the model files.
func engineSessionsMain(args []string) int {
	parallel, err := strconv.Atoi(args[0])
	if err == nil {
		_, err = engineSessions(args[1:], parallel)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 1
	}
	return 0
}

// freshEngineSessions is the raw engine's session creation as a serving
// process meets it: a new process loads ONNX Runtime and creates the
// sessions (parallel at once), its memory touched for the first time, as
// ovms's plugin's is; timed from launch to exit. It runs with the plugin's
// malloc setting (pluginhost.MallocTunables) unless env sets another.
func freshEngineSessions(files []string, parallel int) (time.Duration, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, append([]string{engineSessionsFlag, strconv.Itoa(parallel)}, files...)...)
	cmd.Env = pluginhost.WithMallocTunables(os.Environ())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("engine in a fresh process: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return time.Since(start), nil
}

// manyModelsStartup measures ovms loading the six startup models (launch to
// all AVAILABLE) against the raw engine creating their sessions as many at
// once as ovms loads by default (modelmanager.DefaultLoadParallelism), in
// alternating rounds, with two baselines and a 1.3x target for each:
//   - a fresh engine process (launch to exit), which touches its memory
//     for the first time as ovms's plugin does: the like-for-like baseline;
//   - the engine in this process, creating the sessions again after the
//     rounds before (its heap already faulted in): the stricter reading of
//     the target, which a starting server cannot reach by its nature
//     (docs/performance.md gives the figures).
//
// The engine one session after another and ovms loading one version at a
// time are measured for context.
func (s *suite) manyModelsStartup() {
	name := fmt.Sprintf("%d models: launch to all AVAILABLE", len(startupModels))
	fresh := target{Group: "startup", Name: name + ", vs a fresh engine process", Unit: "s"}
	warm := target{Group: "startup", Name: name + ", vs the engine in a warm process", Unit: "s"}
	defer func() { s.targets = append(s.targets, fresh, warm) }()
	cfg, files, err := prepareStartupModels(s.opt.modelsDir)
	if err != nil {
		fresh.Err, warm.Err = err.Error(), err.Error()
		return
	}
	rounds := 3
	if s.opt.quick {
		rounds = 1
	}
	n := modelmanager.DefaultLoadParallelism()
	var seq, par, cold, ov, ovSeq []time.Duration
	for r := 0; r < rounds && s.ctx.Err() == nil; r++ {
		fmt.Fprintf(s.log, "measuring startup with %d models, round %d of %d\n", len(files), r+1, rounds)
		d, err := freshEngineSessions(files, n)
		if err == nil {
			cold = append(cold, d)
			d, err = engineSessions(files, 1)
		}
		if err == nil {
			seq = append(seq, d)
			d, err = engineSessions(files, n)
			par = append(par, d)
		}
		if err == nil {
			d, err = ovmsStartup(s.opt.binDir, cfg, len(files))
			ov = append(ov, d)
		}
		if err == nil {
			d, err = ovmsStartup(s.opt.binDir, cfg, len(files), "--model_load_parallelism", "1")
			ovSeq = append(ovSeq, d)
		}
		if err != nil {
			fresh.Err, warm.Err = err.Error(), err.Error()
			return
		}
	}
	if len(ov) == 0 {
		fresh.Err, warm.Err = "interrupted", "interrupted"
		return
	}
	fmt.Fprintf(s.log, "startup, %d models: engine in a fresh process %d at once %s; engine in this process one at a time %s, %d at once %s; ovms %s; ovms --model_load_parallelism 1: %s\n",
		len(files), n, fmtRuns(cold), fmtRuns(seq), n, fmtRuns(par), fmtRuns(ov), fmtRuns(ovSeq))
	mCold, mSeq, mPar, mOv, mOvSeq := median(cold), median(seq), median(par), median(ov), median(ovSeq)
	fresh.Measured, fresh.Limit = mOv.Seconds(), 1.3*mCold.Seconds()
	fresh.Formula = fmt.Sprintf("1.3 x a fresh engine process creating the sessions %d at once, launch to exit, %.3fs (median of %d; ovms one at a time %.3fs)",
		n, mCold.Seconds(), len(ov), mOvSeq.Seconds())
	warm.Measured, warm.Limit = mOv.Seconds(), 1.3*mPar.Seconds()
	warm.Formula = fmt.Sprintf("1.3 x the engine in this process creating the sessions %d at once again, %.3fs (median of %d; one at a time %.3fs)",
		n, mPar.Seconds(), len(ov), mSeq.Seconds())
}
