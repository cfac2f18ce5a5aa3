package main

// The IR load target of the startup group (issue 12): translating the
// ResNet-50-shaped IR must add under 10% to the load time of the same model
// in ONNX. Both are served by ovms alone, launch to AVAILABLE, in
// alternating rounds; the plugin's steps are also timed one by one in a
// fresh process (read, parse, translate, marshal, session creation), and
// the peak RSS of the plugin and of that process is recorded for each.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irtoonnx"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// The bench IR model and its ONNX twin (scripts/testmodels -bench).
const (
	benchIR     = "resnet50_ir"
	benchIRTwin = "resnet50_ir_onnx"
)

// irLoadFlag makes benchsuite a fresh process that performs the plugin's
// load steps for one model file (.xml or .onnx), prints their times as JSON
// and exits; the parent reads its peak RSS.
const irLoadFlag = "-ir-load"

// loadSteps are the times of the plugin's load steps, in seconds.
type loadSteps struct {
	Read      float64 `json:"read"`
	Parse     float64 `json:"parse"`
	Translate float64 `json:"translate"`
	Marshal   float64 `json:"marshal"`
	Session   float64 `json:"session"`
	Total     float64 `json:"total"`
	ModelSize int     `json:"model_bytes"`
	MaxRSS    int64   `json:"peak_rss_kib"` // VmHWM of the process at the end
}

// irLoadMain is the child's side of irLoadFlag: what devices/ortdevice's
// readModel and loadModel do, step by step, with the plugin's session
// options. The .onnx file and the IR's .bin are mapped, as the plugin maps
// model files of 1 MiB or more; an IR model's weights go to ONNX Runtime as
// an external file in memory (irtoonnx.ConvertFilesExternal).
func irLoadMain(path string) int {
	var st loadSteps
	err := func() error {
		if err := ort.Init(""); err != nil {
			return err
		}
		opts := ort.SessionOptions{IntraOpThreads: engineThreads(), ConfigEntries: map[string]string{"session.force_spinning_stop": "1"}}
		start := time.Now()
		lap := func(d *float64) {
			now := time.Now()
			*d = now.Sub(start).Seconds()
			start = now
		}
		var model []byte
		if strings.HasSuffix(path, ".onnx") {
			m, err := modelfile.Map(path, om.MaxFileSize)
			if err != nil {
				return err
			}
			defer m.Close()
			model = m.Data
			lap(&st.Read)
		} else {
			binPath := irtoonnx.WeightsPath(path)
			xmlData, err := modelfile.ReadFile(path, irtoonnx.MaxXMLFile)
			if err != nil {
				return err
			}
			bm, err := modelfile.Map(binPath, 0)
			if err != nil {
				return err
			}
			defer bm.Close()
			bin := bm.Data
			lap(&st.Read)
			m, err := irmodel.Parse(xmlData, bin)
			if err != nil {
				return err
			}
			lap(&st.Parse)
			res, err := irtoonnx.Translate(m, irtoonnx.Options{})
			if err != nil {
				return err
			}
			lap(&st.Translate)
			loc := filepath.Base(binPath)
			moved := irtoonnx.Externalize(res.Model, bin, loc)
			if model, err = om.Marshal(res.Model); err != nil {
				return err
			}
			if moved > 0 {
				opts.ExternalFiles = []ort.ExternalFile{{Name: loc, Data: bin}}
			}
			lap(&st.Marshal)
		}
		st.ModelSize = len(model)
		s, err := ort.NewSession(model, opts)
		if err != nil {
			return err
		}
		lap(&st.Session)
		s.Close()
		return nil
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 1
	}
	st.Total = st.Read + st.Parse + st.Translate + st.Marshal + st.Session
	st.MaxRSS = procStatusKiB(os.Getpid(), "VmHWM")
	_ = json.NewEncoder(os.Stdout).Encode(st)
	return 0
}

// freshLoad runs irLoadMain for path in a new process (with the plugin's
// malloc setting) and returns its step times and peak RSS. The peak is the
// child's own VmHWM: the rusage of a child started by vfork counts the
// parent's pages it shared before exec.
func freshLoad(path string) (loadSteps, error) {
	var st loadSteps
	exe, err := os.Executable()
	if err != nil {
		return st, err
	}
	cmd := exec.Command(exe, irLoadFlag, path)
	cmd.Env = pluginhost.WithMallocTunables(os.Environ())
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return st, fmt.Errorf("load %s in a fresh process: %w: %s", path, err, strings.TrimSpace(errOut.String()))
	}
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
		return st, fmt.Errorf("load %s in a fresh process: %w", path, err)
	}
	return st, nil
}

// descendantsHWM is the largest peak RSS (VmHWM, KiB) among the processes
// below pid: ovms's device plugins.
func descendantsHWM(pid int) int64 {
	var best int64
	for _, c := range descendants(pid) {
		best = max(best, procStatusKiB(c, "VmHWM"))
	}
	return best
}

// oneModelConfig writes <modelsDir>/irload/<name>.json serving model alone
// and returns its path.
func oneModelConfig(modelsDir, name string) (string, error) {
	base, err := filepath.Abs(filepath.Join(modelsDir, name))
	if err != nil {
		return "", err
	}
	path := filepath.Join(modelsDir, "irload", name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	body := fmt.Sprintf(`{"model_config_list": [{"config": {"name": %q, "base_path": %q}}]}`+"\n", name, base)
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// medianSteps is the element-wise median of the step times, with the
// largest peak RSS.
func medianSteps(all []loadSteps) loadSteps {
	pick := func(f func(loadSteps) float64) float64 {
		ds := make([]time.Duration, len(all))
		for i, s := range all {
			ds[i] = time.Duration(f(s) * 1e9)
		}
		return median(ds).Seconds()
	}
	m := loadSteps{
		Read: pick(func(s loadSteps) float64 { return s.Read }), Parse: pick(func(s loadSteps) float64 { return s.Parse }),
		Translate: pick(func(s loadSteps) float64 { return s.Translate }), Marshal: pick(func(s loadSteps) float64 { return s.Marshal }),
		Session: pick(func(s loadSteps) float64 { return s.Session }), Total: pick(func(s loadSteps) float64 { return s.Total }),
	}
	for _, s := range all {
		m.MaxRSS, m.ModelSize = max(m.MaxRSS, s.MaxRSS), s.ModelSize
	}
	return m
}

// irLoad measures the IR load target: ovms serving the ResNet-50-shaped IR
// alone against ovms serving its ONNX twin alone, launch to AVAILABLE,
// median of alternating rounds; the ratio must be at most 1.1. The plugin's
// steps in a fresh process and the peak RSS of both are logged and named in
// the target's formula.
func (s *suite) irLoad() {
	t := target{Group: "startup", Name: "IR translation adds under 10% to the load time of the same model in ONNX (ResNet-50-shaped, 100 MB f32)",
		Unit: "x", Limit: 1.1}
	defer func() { s.targets = append(s.targets, t) }()
	irCfg, err := oneModelConfig(s.opt.modelsDir, benchIR)
	var onnxCfg string
	if err == nil {
		onnxCfg, err = oneModelConfig(s.opt.modelsDir, benchIRTwin)
	}
	if err != nil {
		t.Err = err.Error()
		return
	}
	irXML := filepath.Join(s.opt.modelsDir, benchIR, "1", "model.xml")
	twinONNX := filepath.Join(s.opt.modelsDir, benchIRTwin, "1", "model.onnx")
	rounds := 5
	if s.opt.quick {
		rounds = 1
	}
	var irT, onnxT []time.Duration
	var irRSS, onnxRSS int64
	var irSteps, onnxSteps []loadSteps
	for r := 0; r < rounds && s.ctx.Err() == nil; r++ {
		fmt.Fprintf(s.log, "measuring IR load against ONNX, round %d of %d\n", r+1, rounds)
		// Alternate which goes first, so that neither always follows the other.
		order := []bool{true, false}
		if r%2 == 1 {
			order = []bool{false, true}
		}
		for _, ir := range order {
			cfg, rss, times := onnxCfg, &onnxRSS, &onnxT
			if ir {
				cfg, rss, times = irCfg, &irRSS, &irT
			}
			d, err := ovmsStartupProbe(s.opt.binDir, cfg, 1, func(pid int) { *rss = max(*rss, descendantsHWM(pid)) })
			if err != nil {
				t.Err = err.Error()
				return
			}
			*times = append(*times, d)
			path, steps := twinONNX, &onnxSteps
			if ir {
				path, steps = irXML, &irSteps
			}
			st, err := freshLoad(path)
			if err != nil {
				t.Err = err.Error()
				return
			}
			*steps = append(*steps, st)
		}
	}
	if len(irT) == 0 || len(onnxT) == 0 {
		t.Err = "interrupted"
		return
	}
	fmt.Fprintf(s.log, "IR load, launch to AVAILABLE: IR %s; ONNX twin %s\n", fmtRuns(irT), fmtRuns(onnxT))
	mi, mo := medianSteps(irSteps), medianSteps(onnxSteps)
	fmt.Fprintf(s.log, "IR load, plugin steps in a fresh process (medians): IR read %.3fs parse %.3fs translate %.3fs marshal %.3fs (%d-byte model) session %.3fs = %.3fs, peak RSS %d MiB; ONNX read %.3fs session %.3fs = %.3fs, peak RSS %d MiB\n",
		mi.Read, mi.Parse, mi.Translate, mi.Marshal, mi.ModelSize, mi.Session, mi.Total, mi.MaxRSS>>10,
		mo.Read, mo.Session, mo.Total, mo.MaxRSS>>10)
	fmt.Fprintf(s.log, "IR load, peak RSS of ovms's plugin: IR %d MiB, ONNX %d MiB\n", irRSS>>10, onnxRSS>>10)
	a, b := median(irT), median(onnxT)
	t.Measured = a.Seconds() / b.Seconds()
	t.Formula = fmt.Sprintf("1.1 x ONNX: ovms launch to AVAILABLE, IR %.3fs / ONNX twin %.3fs (medians of %d alternating rounds); plugin steps in a fresh process IR %.3fs (translate+marshal %.3fs) vs ONNX %.3fs; plugin peak RSS IR %d MiB, ONNX %d MiB",
		a.Seconds(), b.Seconds(), len(irT), mi.Total, mi.Parse+mi.Translate+mi.Marshal, mo.Total, irRSS>>10, onnxRSS>>10)
}
