package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func TestScaleLayout(t *testing.T) {
	entries := scaleLayout(scaleModels)
	if len(entries) != 200 {
		t.Fatalf("%d models", len(entries))
	}
	kinds, names, multi := map[string]int{}, map[string]bool{}, 0
	for _, e := range entries {
		if names[e.Name] {
			t.Errorf("%s twice", e.Name)
		}
		names[e.Name] = true
		if _, ok := scaleKinds[e.Kind]; !ok {
			t.Errorf("%s: unknown kind %q", e.Name, e.Kind)
		}
		kinds[e.Kind]++
		if e.Versions == 3 {
			multi++
		} else if e.Versions != 1 {
			t.Errorf("%s: %d versions", e.Name, e.Versions)
		}
	}
	if kinds["dummy"] != 100 || kinds["tiny"] != 50 || kinds["small"] != 50 || multi != 20 {
		t.Errorf("kinds %v, %d with 3 versions", kinds, multi)
	}
	if n := sessionCount(entries); n != 240 {
		t.Errorf("%d sessions, want 240", n)
	}
	roles := map[string]string{scaleProbe: "dummy", scaleReload: "small"}
	for _, e := range entries {
		if kind, ok := roles[e.Name]; ok && (e.Kind != kind || e.Versions != 1) {
			t.Errorf("%s is %s with %d versions, want %s with 1", e.Name, e.Kind, e.Versions, kind)
		}
	}
	others := reloadOthers(entries, 8)
	if len(others) != 8 || slices.Contains(others, scaleProbe) || slices.Contains(others, scaleReload) {
		t.Errorf("reload clients' models %v", others)
	}
}

// scaleConfigModels decodes a config.json's models.
func scaleConfigModels(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var f struct {
		List []struct {
			Config map[string]any `json:"config"`
		} `json:"model_config_list"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, c := range f.List {
		out = append(out, c.Config)
	}
	return out
}

func TestScaleConfigJSON(t *testing.T) {
	entries := scaleLayout(12)
	plain, err := scaleConfigJSON(entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	models := scaleConfigModels(t, plain)
	if len(models) != 12 {
		t.Fatalf("%d models", len(models))
	}
	for i, m := range models {
		e := entries[i]
		if m["name"] != e.Name || m["base_path"] != e.Name {
			t.Errorf("model %d: %v", i, m)
		}
		_, all := m["model_version_policy"]
		if all != (e.Versions > 1) {
			t.Errorf("%s (%d versions): version policy %v", e.Name, e.Versions, m["model_version_policy"])
		}
		if _, ok := m["plugin_config"]; ok {
			t.Errorf("%s has a plugin_config", e.Name)
		}
	}
	change := map[string]map[string]any{"scale_003": {"plugin_config": map[string]string{"PERFORMANCE_HINT": "LATENCY"}}}
	changed, err := scaleConfigJSON(entries, change)
	if err != nil {
		t.Fatal(err)
	}
	diff := 0
	for i, m := range scaleConfigModels(t, changed) {
		if pc, ok := m["plugin_config"]; ok {
			diff++
			if m["name"] != "scale_003" || pc.(map[string]any)["PERFORMANCE_HINT"] != "LATENCY" {
				t.Errorf("model %d: %v", i, m)
			}
		}
	}
	if diff != 1 {
		t.Errorf("%d models changed, want 1", diff)
	}
	again, _ := scaleConfigJSON(entries, nil)
	if string(again) != string(plain) {
		t.Error("the config is not the same from one call to the next")
	}
}

func TestPrepareScaleModels(t *testing.T) {
	dir := t.TempDir()
	for kind, model := range scaleKinds {
		if err := os.MkdirAll(filepath.Join(dir, model, "1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, model, "1", "model.onnx"), []byte(kind), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := prepareScaleModels(dir, 12)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.files) != sessionCount(set.entries) || len(set.files) != 12+2*2 {
		t.Fatalf("%d files", len(set.files))
	}
	for _, e := range set.entries {
		for v := 1; v <= e.Versions; v++ {
			data, err := os.ReadFile(filepath.Join(dir, scaleDir, e.Name, string(rune('0'+v)), "model.onnx"))
			if err != nil || string(data) != string(tagged([]byte(e.Kind), e.Name)) {
				t.Errorf("%s version %d: %q, %v", e.Name, v, data, err)
			}
		}
	}
	if set.probe != filepath.Join(dir, scaleDir, scaleProbe, "1", "model.onnx") {
		t.Errorf("probe %s", set.probe)
	}
	one, err := os.ReadFile(set.one)
	if err != nil {
		t.Fatal(err)
	}
	if m := scaleConfigModels(t, one); len(m) != 1 || m[0]["name"] != scaleProbe {
		t.Errorf("one.json: %v", m)
	}
	// A second run keeps the files that are the same.
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{set.cfg, set.files[0]} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := prepareScaleModels(dir, 12); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{set.cfg, set.files[0]} {
		if st, err := os.Stat(p); err != nil || st.ModTime().After(old.Add(time.Minute)) {
			t.Errorf("%s rewritten", p)
		}
	}
	// A changed source is copied again.
	if err := os.WriteFile(filepath.Join(dir, scaleKinds["dummy"], "1", "model.onnx"), []byte("new dummy"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareScaleModels(dir, 12); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(set.files[0]); !strings.HasPrefix(string(data), "new dummy") {
		t.Errorf("%s after its source changed: %q", set.files[0], data)
	}
	if _, err := prepareScaleModels(dir, 1); err == nil || !strings.Contains(err.Error(), scaleProbe) {
		t.Errorf("without the probe model: %v", err)
	}
}

func TestStatusKiB(t *testing.T) {
	status := "Name:\tovms\nVmPeak:\t 1203456 kB\nVmHWM:\t  300012 kB\nVmRSS:\t  287260 kB\nThreads:\t12\n"
	if got := statusKiB(status, "VmRSS"); got != 287260 {
		t.Errorf("VmRSS %d", got)
	}
	if got := statusKiB(status, "VmHWM"); got != 300012 {
		t.Errorf("VmHWM %d", got)
	}
	if got := statusKiB(status, "VmSwap"); got != 0 {
		t.Errorf("missing field: %d", got)
	}
	if rss := vmRSS(os.Getpid()); rss <= 0 {
		t.Errorf("VmRSS of this process %d KiB", rss)
	}
	if rss := vmRSS(-1); rss != 0 {
		t.Errorf("VmRSS of no process %d", rss)
	}
}

func TestPerModelAndMedians(t *testing.T) {
	if got := perModel(58160, 50640, 200); math.Abs(got-37.79) > 0.01 {
		t.Errorf("per model %.3f", got)
	}
	if got := perModel(100, 200, 101); got != -1 {
		t.Errorf("per model %.3f, want -1", got)
	}
	if !math.IsNaN(perModel(1, 1, 1)) {
		t.Error("one model: want NaN")
	}
	if got := ratioMedian([]float64{1.2, 0.9, 1.0}); got != 1.0 {
		t.Errorf("median %v", got)
	}
	in := []float64{3, 1, 2, 4}
	if got := ratioMedian(in); got != 3 || in[0] != 3 {
		t.Errorf("median %v (input %v)", got, in)
	}
	if !math.IsNaN(ratioMedian(nil)) {
		t.Error("no ratio: want NaN")
	}
	r := pairRatios([]time.Duration{4, 6, 9}, []time.Duration{2, 0, 3, 7})
	if !slices.Equal(r, []float64{2, 3}) {
		t.Errorf("pair ratios %v", r)
	}
	if got := medianInt([]int64{5, 1, 9}); got != 5 {
		t.Errorf("median %d", got)
	}
}

// reloadLogText is ovms's log of a reload of "b" (with the plugin's
// "@generation" on the model name) and a line of another model.
const reloadLogText = `time="2026-12-05 18:50:29.665" level=info msg="configuration file changed; applying it" component=config path=/tmp/sc/config.json
time="2026-12-05 18:50:29.665" level=info msg="model configuration changed; loading all its versions again" component=model_manager model=b
time="2026-12-05 18:50:29.777" level=info msg="model compiled" component=plugin_host intra_op_threads=2 model=b@2 plugin=cpu plugin_logger=ovms-device-cpu streams=1 took=100ms version=1
time="2026-12-05 18:50:29.777" level=info msg="model version loaded" component=model_manager device=cpu model=b took=112ms version=1
time="2026-12-05 18:50:29.778" level=warning msg="something \"quoted\" happened" model=a
time="2026-12-05 18:50:29.779" level=info msg="configuration applied" component=config goroutines=26 models=2
`

func TestLogFields(t *testing.T) {
	f := logFields(`time="2026-12-05 18:50:29.778" level=warning msg="something \"quoted\" happened" model=a took=5ms`)
	want := map[string]string{"time": "2026-12-05 18:50:29.778", "level": "warning", "msg": `something "quoted" happened`, "model": "a", "took": "5ms"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if len(f) != len(want) {
		t.Errorf("fields %v", f)
	}
	if f := logFields("not a log line"); len(f) != 0 {
		t.Errorf("fields of a plain line: %v", f)
	}
}

func TestReloadLog(t *testing.T) {
	r := reloadLog(reloadLogText, "b")
	if r.loaded != 112*time.Millisecond || r.compiled != 100*time.Millisecond {
		t.Errorf("loaded %v, compiled %v", r.loaded, r.compiled)
	}
	if !slices.Equal(r.others, []string{"a"}) {
		t.Errorf("others %v", r.others)
	}
	wrote, _ := time.ParseInLocation(logTimeLayout, "2026-12-05 18:50:29.600", time.Local)
	if got := r.phases(wrote); got != "65/112/2ms" {
		t.Errorf("phases %q", got)
	}
	if r := reloadLog(reloadLogText, "c"); r.loaded != 0 || len(r.others) != 2 {
		t.Errorf("another model: %+v", r)
	}
	if got := (reloadSeen{}).phases(wrote); got != "" {
		t.Errorf("phases without lines %q", got)
	}
	if c := startupCause(reloadLogText, time.Time{}, 2, 2, time.Second, nil); !strings.Contains(c, "1 of 2 versions") || !strings.Contains(c, "0.100s") {
		t.Errorf("startup cause %q", c)
	}
	started := `time="2026-12-05 18:50:29.500" level=info msg="device plugin started" component=plugin_host pid=1` + "\n"
	launched, _ := time.ParseInLocation(logTimeLayout, "2026-12-05 18:50:29.400", time.Local)
	if c := startupCause(started+reloadLogText, launched, 2, 2, time.Second, nil); !strings.Contains(c, "plugin started 100ms, first version loaded 377ms, last 377ms") {
		t.Errorf("startup cause %q", c)
	}
}

func TestTimedRequestOverlaps(t *testing.T) {
	r := timedRequest{start: 10, end: 20}
	for _, c := range []struct {
		from, to time.Duration
		want     bool
	}{{0, 5, false}, {0, 10, true}, {12, 15, true}, {20, 30, true}, {21, 30, false}, {0, 100, true}} {
		if got := r.overlaps(c.from, c.to); got != c.want {
			t.Errorf("[%d, %d]: %v", c.from, c.to, got)
		}
	}
}

func TestStatCPU(t *testing.T) {
	stat := "4242 (ovms-device cpu) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	if got := statCPU(stat); got != 325 {
		t.Errorf("utime+stime %d, want 325", got)
	}
	if got := statCPU("garbage"); got != 0 {
		t.Errorf("garbage: %d", got)
	}
	if procTicks(os.Getpid()) < 0 {
		t.Error("negative CPU time")
	}
	c := cpuTicks{core: 50, plugins: 150}.minus(cpuTicks{core: 10, plugins: 50})
	if got := c.cores(2*time.Second, true); got != 0.2 {
		t.Errorf("core busy %v", got)
	}
	if got := c.plus(c).cores(time.Second, false); got != 2 {
		t.Errorf("plugins busy %v", got)
	}
}

func TestScaleFail(t *testing.T) {
	names := scaleTargetNames()
	if len(names) != tP99+1 || !strings.Contains(names[tStartup], "240 versions") {
		t.Fatalf("names %q", names)
	}
	s := &suite{targets: []target{{Group: "scale", Name: names[tStartup], Measured: 1, Limit: 2}, {Group: "startup", Name: names[tCoreRSS]}}}
	s.scaleFail(os.ErrDeadlineExceeded)
	if len(s.targets) != 2+len(names)-1 {
		t.Fatalf("%d targets", len(s.targets))
	}
	if !s.targets[0].Pass() {
		t.Error("the target measured before the failure was changed")
	}
	for _, tg := range s.targets[2:] {
		if tg.Group != "scale" || tg.Pass() || tg.Err != os.ErrDeadlineExceeded.Error() {
			t.Errorf("%+v", tg)
		}
	}
}

// TestMain lets the test binary be the scale group's fresh engine process
// (engineScale re-executes os.Executable()) and the engine echo server.
func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == engineScaleFlag {
		os.Exit(engineScaleMain(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == engineEchoFlag {
		os.Exit(engineEchoMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestEngineScale runs the fresh engine process on stand-in scale models
// (adders) with both thread pool settings, and on a file that is no model.
func TestEngineScale(t *testing.T) {
	if err := ort.Init(""); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	dir := t.TempDir()
	for _, model := range scaleKinds {
		writeAdder(t, dir, model)
	}
	set, err := prepareScaleModels(dir, 12)
	if err != nil {
		t.Fatal(err)
	}
	for _, shared := range []bool{true, false} {
		took, rss, err := engineScale(set.files, 2, shared)
		if err != nil {
			t.Fatalf("shared pools %v: %v", shared, err)
		}
		if took <= 0 || rss < 1024 {
			t.Errorf("shared pools %v: took %v, RSS %d KiB", shared, took, rss)
		}
	}
	bad := filepath.Join(dir, "not_a_model.onnx")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := engineScale([]string{set.probe, bad}, 2, true); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a file that is no model: %v", err)
	}
}

// TestTagged checks the doc_string appended to a model: the model parses
// with it, and it is the model's name.
func TestTagged(t *testing.T) {
	g := om.NewGraph("g")
	x := g.Input("b", om.Float32, 1, 10)
	g.Output(g.NamedNode("Identity", "a", []om.Value{x}), "a", om.Float32, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	m.DocString = proto.String("first")
	data, err := om.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := tagged(data, "scale_007")
	if string(out[:len(data)]) != string(data) {
		t.Error("the model's own bytes changed")
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.GetDocString() != "scale_007" || back.GetGraph().GetName() != "g" {
		t.Errorf("doc_string %q, graph %q", back.GetDocString(), back.GetGraph().GetName())
	}
	if string(tagged(data, "scale_007")) != string(out) || string(tagged(data, "scale_008")) == string(out) {
		t.Error("tags do not tell models apart")
	}
}

// TestSlotsBusy: the share of the compile window in which the plugin's
// slots ran compiles, a lone compile counting as half of two slots.
func TestSlotsBusy(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	span := func(a, b int) [2]time.Time { return [2]time.Time{at(a), at(b)} }
	for _, c := range []struct {
		spans [][2]time.Time
		par   int
		want  float64
	}{
		{nil, 2, 0},
		{[][2]time.Time{span(0, 10), span(0, 10)}, 2, 1},
		{[][2]time.Time{span(0, 10), span(0, 10), span(0, 10)}, 2, 1},   // more than par count as par
		{[][2]time.Time{span(0, 10), span(10, 20)}, 2, 0.5},             // one at a time
		{[][2]time.Time{span(0, 10), span(0, 5), span(15, 20)}, 2, 0.5}, // 0-5 both, 5-10 one, 10-15 none, 15-20 one
		{[][2]time.Time{span(0, 10), span(10, 20)}, 1, 1},
	} {
		if got := slotsBusy(c.spans, c.par); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("slotsBusy(%v, %d) = %v, want %v", c.spans, c.par, got, c.want)
		}
	}
}

// TestLockedBufferFrom: Len counts what was written and From returns what
// came after an offset (nothing past the end), as the reload measurement
// reads one reload's log lines.
func TestLockedBufferFrom(t *testing.T) {
	var b lockedBuffer
	_, _ = b.Write([]byte("start\n"))
	n := b.Len()
	if n != 6 {
		t.Fatalf("Len %d, want 6", n)
	}
	_, _ = b.Write([]byte("reload\n"))
	if got := b.From(n); got != "reload\n" {
		t.Errorf("From(%d) %q, want %q", n, got, "reload\n")
	}
	if got := b.From(100); got != "" {
		t.Errorf("From past the end %q, want empty", got)
	}
}
