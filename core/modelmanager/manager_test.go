package modelmanager

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// newFake returns devices whose Load fails for versions whose directory
// holds a "bad" file and blocks for versions whose directory holds a "slow"
// file until release is closed; Infer adds one to a float32 input.
func newFake(t *testing.T, release chan struct{}) devicetest.Devices {
	t.Helper()
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, meta)
	mock.LoadF = func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
		if _, err := os.Stat(filepath.Join(req.Path, "bad")); err == nil {
			return nil, status.Error(codes.FailedPrecondition, "broken model file")
		}
		if _, err := os.Stat(filepath.Join(req.Path, "slow")); err == nil {
			<-release
		}
		return meta, nil
	}
	return devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}
}

var meta = &device.ModelInfo{
	Inputs:  []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{1, 2}}},
	Outputs: []device.TensorInfo{{Name: "a", DType: device.Float32, Shape: []int64{1, 2}}},
}

// repo makes base/<v> directories; versions named in markers get a marker
// file of that name ("bad", "slow") as "v:marker".
func repo(t *testing.T, versions []string, markers ...string) string {
	t.Helper()
	base := t.TempDir()
	for _, v := range versions {
		if err := os.MkdirAll(filepath.Join(base, v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, vm := range markers {
		v, marker, _ := strings.Cut(vm, ":")
		os.WriteFile(filepath.Join(base, v, marker), nil, 0o644)
	}
	return base
}

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.ErrorLevel)
	return logrus.NewEntry(l)
}

func model(name, base string, policy config.VersionPolicy) config.Model {
	m := config.DefaultModel()
	m.Name, m.BasePath, m.VersionPolicy = name, base, policy
	return m
}

func states(mod *Model) string {
	var parts []string
	for _, v := range mod.Versions() {
		s, c := v.Status()
		parts = append(parts, strings.Join([]string{s.String(), c.String()}, "/"))
	}
	return strings.Join(parts, " ")
}

func TestVersionPoliciesAndDefault(t *testing.T) {
	devs := newFake(t, nil)
	base := repo(t, []string{"1", "2", "3", "x", "0"})
	m := New(devs, quiet())
	err := m.Apply(context.Background(), []config.Model{
		model("latest", base, config.VersionPolicy{Kind: config.PolicyLatest, NumVersions: 1}),
		model("all", base, config.VersionPolicy{Kind: config.PolicyAll}),
		model("specific", base, config.VersionPolicy{Kind: config.PolicySpecific, Versions: []int64{1, 3, 9}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]int64{"latest": {3}, "all": {1, 2, 3}, "specific": {1, 3}} {
		mod, _ := m.Model(name)
		var got []int64
		for _, v := range mod.Versions() {
			got = append(got, v.Number)
		}
		if len(got) != len(want) || got[len(got)-1] != want[len(want)-1] || got[0] != want[0] {
			t.Errorf("%s serves %v, want %v", name, got, want)
		}
		if d := mod.Default(); d == nil || d.Number != 3 {
			t.Errorf("%s default = %v", name, d)
		}
	}
	mod, _ := m.Model("specific")
	if _, err := mod.Acquire(context.Background(), 2); !apierr.Is(err, apierr.ModelVersionMissing) {
		t.Errorf("version excluded by policy: %v", err)
	}
	if _, err := m.Model("none"); !apierr.Is(err, apierr.ModelNameMissing) {
		t.Errorf("unknown model: %v", err)
	}
}

func TestFailedVersionStaysLoadingUnknownAndOlderServes(t *testing.T) {
	devs := newFake(t, nil)
	m := New(devs, quiet())
	all := config.VersionPolicy{Kind: config.PolicyAll}
	err := m.Apply(context.Background(), []config.Model{
		model("m", repo(t, []string{"1", "2"}, "2:bad"), all),
		model("broken", repo(t, []string{"1"}, "1:bad"), all),
	})
	if !errors.Is(err, ErrLoadFailed) || !strings.Contains(err.Error(), "broken model file") {
		t.Fatalf("Apply: %v", err)
	}
	mod, _ := m.Model("m")
	if got := states(mod); got != "AVAILABLE/OK LOADING/UNKNOWN" {
		t.Fatalf("states %q", got)
	}
	if d := mod.Default(); d == nil || d.Number != 1 {
		t.Fatalf("default %v, want version 1", d)
	}
	loadWait = 50 * time.Millisecond
	defer func() { loadWait = 10 * time.Second }()
	if _, err := mod.Acquire(context.Background(), 2); !apierr.Is(err, apierr.ModelVersionNotLoadedYet) {
		t.Errorf("failed version: %v", err)
	}
	broken, _ := m.Model("broken")
	if _, err := broken.Acquire(context.Background(), 0); !apierr.Is(err, apierr.ModelVersionMissing) {
		t.Errorf("default of a model without available versions: %v", err)
	}
	if !m.Ready() {
		t.Error("manager not ready after apply")
	}
}

func TestRequestWaitsForLoadingVersion(t *testing.T) {
	release := make(chan struct{})
	devs := newFake(t, release)
	base := repo(t, []string{"1"}, "1:slow")
	m := New(devs, quiet())
	done := make(chan error)
	go func() {
		done <- m.Apply(context.Background(), []config.Model{model("m", base, config.DefaultModel().VersionPolicy)})
	}()
	var mod *Model
	for mod == nil || len(mod.Versions()) == 0 {
		mod, _ = m.Model("m")
		time.Sleep(time.Millisecond)
	}
	got := make(chan error)
	go func() {
		v, err := mod.Acquire(context.Background(), 1)
		if err == nil {
			v.Release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("request did not wait for the loading version: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("request after load: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestInferAndUnloadWaitsForRequests(t *testing.T) {
	devs := newFake(t, nil)
	m := New(devs, quiet())
	if err := m.Apply(context.Background(), []config.Model{model("m", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy)}); err != nil {
		t.Fatal(err)
	}
	v, err := m.Acquire(context.Background(), "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := v.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{{
		Name: "b", DType: device.Float32, DTypeName: "FP32", Shape: tensor.Shape{1, 2}, Values: tensor.Numbers[float64]{1.5, -1},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out := resp.Outputs[0].Data
	if math.Float32frombits(binary.LittleEndian.Uint32(out)) != 2.5 || math.Float32frombits(binary.LittleEndian.Uint32(out[4:])) != 0 {
		t.Fatalf("output %v", out)
	}
	resp.Release()
	if n := devs.Instance.Arena.PluginZone().Allocations(); n != 0 {
		t.Errorf("%d plugin-zone buffers not released", n)
	}
	if n := devs.Instance.Arena.HostZone().Allocations(); n != 0 {
		t.Errorf("%d host-zone buffers not freed", n)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	closed := make(chan struct{})
	go func() { defer wg.Done(); m.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close did not wait for the in-flight request")
	case <-time.After(30 * time.Millisecond):
	}
	v.Release()
	wg.Wait()
	if s, _ := v.Status(); s != StateEnd {
		t.Fatalf("state after close %v", s)
	}
	if _, err := m.Acquire(context.Background(), "m", 1); !apierr.Is(err, apierr.ModelVersionNotLoadedAnymore) {
		t.Fatalf("acquire after close: %v", err)
	}
}

func TestUnknownDeviceFailsTheLoad(t *testing.T) {
	m := New(newFake(t, nil), quiet())
	cfg := model("m", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy)
	cfg.TargetDevice = "GPU"
	err := m.Apply(context.Background(), []config.Model{cfg})
	if !errors.Is(err, ErrLoadFailed) || !strings.Contains(err.Error(), "Cannot compile model into target device") {
		t.Fatalf("Apply: %v", err)
	}
}

// TestHoldReady: with HoldReady, Apply leaves the manager not ready (the
// server still publishes its pipelines) until ReleaseReady.
func TestHoldReady(t *testing.T) {
	m := New(newFake(t, nil), quiet())
	m.HoldReady()
	if err := m.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if m.Ready() {
		t.Fatal("ready while held")
	}
	m.ReleaseReady()
	if !m.Ready() {
		t.Fatal("not ready after ReleaseReady")
	}
}
