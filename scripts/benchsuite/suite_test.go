package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/cli/bench"
	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

func TestTargetVerdicts(t *testing.T) {
	tests := []struct {
		name     string
		t        target
		pass     bool
		ratio    float64
		contains string
	}{
		{"upper limit met", target{Measured: 90, Limit: 100, Unit: "us"}, true, 0.9, "PASS"},
		{"upper limit at the edge", target{Measured: 100, Limit: 100, Unit: "us"}, true, 1, "PASS"},
		{"upper limit missed", target{Measured: 125, Limit: 100, Unit: "us"}, false, 1.25, "FAIL: 25.0us (25.0%) over"},
		{"lower limit met", target{Measured: 2.5, Limit: 2, Unit: "x", AtLeast: true}, true, 1.25, "PASS"},
		{"lower limit missed", target{Measured: 1.5, Limit: 2, Unit: "x", AtLeast: true}, false, 0.75, "FAIL: 0.50x (25.0%) short"},
		{"not measured", target{Limit: 2, Unit: "x", Err: "ovms rejected --x"}, false, math.NaN(), "FAIL: ovms rejected --x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.t.Pass() != tt.pass {
				t.Errorf("Pass = %v", !tt.pass)
			}
			if r := tt.t.Ratio(); r != tt.ratio && !(math.IsNaN(r) && math.IsNaN(tt.ratio)) {
				t.Errorf("Ratio = %v, want %v", r, tt.ratio)
			}
			if v := tt.t.verdict(); !strings.Contains(v, tt.contains) {
				t.Errorf("verdict %q, want %q", v, tt.contains)
			}
		})
	}
}

func TestPrintTargetsCountsMisses(t *testing.T) {
	var b bytes.Buffer
	missed := printTargets(&b, []target{
		{Group: "overhead", Name: "p50", Measured: 90, Limit: 100, Unit: "us", Formula: "echo + engine + 40us"},
		{Group: "batching", Name: "throughput", Measured: 1.2, Limit: 2, Unit: "x", AtLeast: true},
		{Group: "bandwidth", Name: "shm", Limit: 5, Unit: "us", Err: "ovms rejected --allow_client_shm"},
	})
	out := b.String()
	if missed != 2 || !strings.Contains(out, ">= 2.00x") || !strings.Contains(out, "<= 100.0us") ||
		!strings.Contains(out, "FAIL: ovms rejected --allow_client_shm") || !strings.Contains(out, "echo + engine + 40us") {
		t.Errorf("missed %d:\n%s", missed, out)
	}
}

func TestAddTargetTakesTheFirstProblem(t *testing.T) {
	s := &suite{}
	good := &measurement{Name: "good", Level: bench.Level{Count: 10}}
	failed := &measurement{Name: "ovms x", Err: "ovms rejected --y"}
	flaky := &measurement{Name: "flaky", Level: bench.Level{Count: 10, Errors: 2, FirstError: "boom"}}
	empty := &measurement{Name: "empty"}
	s.addTarget(target{Name: "a"}, good)
	s.addTarget(target{Name: "b"}, good, failed, flaky)
	s.addTarget(target{Name: "c"}, flaky)
	s.addTarget(target{Name: "d"}, empty)
	want := []string{"", "ovms x: ovms rejected --y", "flaky: 2 errors, first: boom", "empty: no successful request"}
	for i, w := range want {
		if s.targets[i].Err != w {
			t.Errorf("target %s: error %q, want %q", s.targets[i].Name, s.targets[i].Err, w)
		}
	}
}

func TestEchoServer(t *testing.T) {
	addr := serveEchoForTest(t)
	for _, model := range []string{"dummy", "empty", "resnet50"} {
		rep, err := bench.Run(context.Background(), bench.Config{URL: addr, Model: model,
			Warmup: -1, Window: 50 * time.Millisecond, MaxTrials: 3})
		if err != nil {
			t.Fatal(err)
		}
		if l := rep.Levels[0]; l.Count == 0 || l.Errors != 0 || rep.Inputs[0].Bytes != 4*int(elems(echoModels[model].shape)) {
			t.Errorf("%s: %+v %+v", model, rep.Inputs, l)
		}
	}
	if _, err := bench.Run(context.Background(), bench.Config{URL: addr, Model: "nope"}); err == nil {
		t.Error("unknown echo model accepted")
	}
}

func elems(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

func TestDecodersAgree(t *testing.T) {
	body := inferBody()
	dst := make([]byte, 4*imageElems)
	if err := decodeOVMS(body, dst); err != nil {
		t.Fatal(err)
	}
	if err := decodeStd(body); err != nil {
		t.Fatal(err)
	}
	var std stdInferRequest
	if err := json.Unmarshal(body, &std); err != nil {
		t.Fatal(err)
	}
	for i, v := range std.Inputs[0].Data {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(dst[4*i:])); got != v {
			t.Fatalf("element %d: ovms %v, encoding/json %v", i, got, v)
		}
	}
	if _, err := timeOp(time.Millisecond, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSetupAndStartErrors(t *testing.T) {
	dir := t.TempDir()
	if err := checkSetup(options{binDir: dir, modelsDir: dir, only: groups}); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("no binary: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ovms"), []byte("#!/bin/sh\necho 'unknown flag --x' >&2\nexit 64\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkSetup(options{binDir: dir, modelsDir: dir, only: []string{"batching"}}); err == nil || !strings.Contains(err.Error(), "small_cnn") {
		t.Errorf("no model: %v", err)
	}
	s := &servers{binDir: dir, modelsDir: dir}
	_, err := s.get("dummy", "--x")
	if err == nil || !strings.Contains(err.Error(), "ovms rejected --x") || !strings.Contains(err.Error(), "unknown flag --x") {
		t.Errorf("rejected flag: %v", err)
	}
	if _, again := s.get("dummy", "--x"); again != err {
		t.Errorf("the failure was not remembered: %v", again)
	}
}

func TestEngineMeasures(t *testing.T) {
	if err := ort.Init(""); err != nil {
		t.Skipf("no ONNX Runtime: %v", err)
	}
	dir := t.TempDir()
	writeAdder(t, dir, "add")
	e, err := newEngine(dir, "add", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	rep, err := bench.Measure(context.Background(), bench.Config{Warmup: -1, Window: 30 * time.Millisecond, MaxTrials: 3,
		Concurrency: []int{1, 2}}, e.doer)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rep.Levels {
		if l.Count == 0 || l.Errors != 0 {
			t.Errorf("engine level %+v", l)
		}
	}
	d, _ := e.doer(0)
	defer d.(*engineDoer).Close()
	if err := d.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := d.(*engineDoer).outs[0].Bytes()
	in := e.inputs[0].Bytes()
	for i := 0; i < 10; i++ {
		a := math.Float32frombits(binary.LittleEndian.Uint32(in[4*i:]))
		b := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
		if b != a+1 {
			t.Fatalf("engine output %d: %v for input %v", i, b, a)
		}
	}
	if !slices.Equal(e.outNames, []string{"a"}) {
		t.Errorf("outputs %v", e.outNames)
	}
}

// TestRatioSpread: the quartiles of the block pairs' ratios, whatever
// their order, and the pairs above 1.
func TestRatioSpread(t *testing.T) {
	got := ratioSpread("a / b", []float64{1.2, 0.9, 1.0, 1.1, 0.8, 1.3, 1.05, 0.95})
	want := "the 8 block pairs' ratios (a / b): p25 0.950, median 1.050, p75 1.200; above 1 in 4 of them (50%); " +
		"a median of so many pairs so spread is uncertain by about +-7.8%"
	if got != want {
		t.Errorf("ratioSpread:\n got %s\nwant %s", got, want)
	}
	if got := ratioSpread("a / b", nil); got != "" {
		t.Errorf("no pairs: %q", got)
	}
}

// The client shared memory row's cause splits ovms's time from its metrics:
// the engine's run in the plugin against back to back, the server beyond
// the run, and outside the server against the empty echo.
func TestShmCause(t *testing.T) {
	lvl := func(p50, mean time.Duration) bench.Level {
		return bench.Level{Count: 10, P50: p50, Mean: mean}
	}
	shm := &measurement{Name: "shm", Level: lvl(600*time.Microsecond, 640*time.Microsecond)}
	eng := &measurement{Name: "eng", Level: lvl(200*time.Microsecond, 210*time.Microsecond)}
	empty := &measurement{Name: "empty", Level: lvl(150*time.Microsecond, 160*time.Microsecond)}
	rtt := &measurement{Name: "rtt", Level: lvl(180*time.Microsecond, 190*time.Microsecond)}
	sp := &shmSplit{client: 640, server: 400, engine: 250}
	got := shmCause(shm, eng, empty, rtt, sp)
	for _, want := range []string{"adds 250.0us p50", "client 640.0us", "the engine's run in the plugin 250.0us (back to back 210.0us, +40.0us)",
		"beyond that run (request path, crossing to the plugin and back) 150.0us", "network legs) 240.0us against the empty echo's 160.0us (+80.0us)",
		"round trip alone after an idle gap 180.0us p50"} {
		if !strings.Contains(got, want) {
			t.Errorf("cause %q lacks %q", got, want)
		}
	}
	if got := shmCause(shm, eng, empty, nil, sp); strings.Contains(got, "round trip alone") || got == "" {
		t.Errorf("without the round trip: %q", got)
	}
	if got := shmCause(shm, eng, empty, rtt, nil); got != "" {
		t.Errorf("without the split: %q", got)
	}
	if got := shmCause(shm, &measurement{Name: "eng", Err: "no engine"}, empty, rtt, sp); got != "" {
		t.Errorf("without the engine: %q", got)
	}
}

// writeAdder writes a model that adds 1 to a [1,10] FP32 input "b" (output
// "a") as dir/name/1/model.onnx.
func writeAdder(t *testing.T, dir, name string) {
	t.Helper()
	g := om.NewGraph(name)
	x := g.Input("b", om.Float32, 1, 10)
	one := g.Constant(om.Float32Tensor("one", []int64{1, 1}, []float32{1}))
	g.Output(g.NamedNode("Add", "a", []om.Value{x, one}), "a", om.Float32, 1, 10)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	if err := om.WriteFile(filepath.Join(dir, name, "1", "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
}

// serveEchoForTest serves the echo in this process until the test ends
// and returns its address.
func serveEchoForTest(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newEchoGRPC()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}
