package customnode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/tensor"
)

// binDir holds the node programs TestMain builds: the repository's argmax
// and cropboxes nodes and the fault-injection node.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "customnode-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		for name, pkg := range map[string]string{"argmax": "../../examples/argmax", "cropboxes": "../../examples/cropboxes", "fault": "./internal/faultnode"} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "ovms-node-"+name), pkg).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
				return 1
			}
		}
		return m.Run()
	}())
}

func newHost(t *testing.T, libs ...string) *Host {
	t.Helper()
	h := New(pluginhost.Config{ArenaBytes: 64 << 20}, nil)
	t.Cleanup(h.Close)
	var cfg []config.NodeLibrary
	for _, l := range libs {
		cfg = append(cfg, config.NodeLibrary{Name: l, BasePath: filepath.Join(binDir, "ovms-node-"+l)})
	}
	if err := h.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// floats is an FP32 request input.
func floats(name string, shape []int64, v ...float32) tensor.Input {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return tensor.Input{Name: name, DType: tensor.DataType(1), Shape: shape, Raw: raw, HasRaw: true}
}

func outFloats(t *testing.T, r *tensor.Response, name string) []float32 {
	t.Helper()
	for _, o := range r.Outputs {
		if o.Name == name {
			v := make([]float32, len(o.Data)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(o.Data[4*i:]))
			}
			return v
		}
	}
	t.Fatalf("no output %s in %+v", name, r.Outputs)
	return nil
}

func TestCustomNodeArgmax(t *testing.T) {
	h := newHost(t, "argmax")
	if pid := h.Libraries()["argmax"]; pid == 0 {
		t.Fatalf("argmax is not running: %v", h.Libraries())
	}
	n, err := h.Open(context.Background(), "argmax", "pick", map[string]string{"threshold": "0.5", "input": "probs"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	info := n.Info()
	if len(info.Inputs) != 1 || info.Inputs[0].Name != "probs" || len(info.Outputs) != 2 || info.Outputs[0].Name != "label" {
		t.Fatalf("Info = %+v", info)
	}
	resp, err := n.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("probs", []int64{2, 3}, 0.1, 0.7, 0.2, 0.3, 0.1, 0.2)}})
	if err != nil {
		t.Fatal(err)
	}
	if s := outFloats(t, resp, "score"); s[0] != 0.7 || s[1] != 0.3 {
		t.Errorf("score = %v", s)
	}
	for _, o := range resp.Outputs {
		if o.Name == "label" && int32(binary.LittleEndian.Uint32(o.Data[4:])) != -1 {
			t.Errorf("label[1] = %d, want -1 (below the threshold)", int32(binary.LittleEndian.Uint32(o.Data[4:])))
		}
	}
	resp.Release()
	// A bad request gets OVMS's validation message, as for a model.
	_, err = n.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("wrong", []int64{1, 3}, 1, 2, 3)}})
	if !apierr.Is(err, apierr.InvalidMissingInput) {
		t.Errorf("wrong input name: %v", err)
	}
	// Params the library refuses: initialize fails.
	if _, err := h.Open(context.Background(), "argmax", "bad", map[string]string{"rank": "x"}); !apierr.Is(err, apierr.NodeLibraryInitializeFailed) || !strings.Contains(err.Error(), "param rank") {
		t.Errorf("bad params: %v", err)
	}
	if _, err := h.Open(context.Background(), "nosuch", "n", nil); !errors.Is(err, ErrUnknownLibrary) {
		t.Errorf("unknown library: %v", err)
	}
}

func TestCustomNodeCropBoxes(t *testing.T) {
	h := newHost(t, "cropboxes")
	n, err := h.Open(context.Background(), "cropboxes", "crop", map[string]string{"target_image_width": "2", "target_image_height": "2"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	img := make([]float32, 3*4*4)
	for i := range img {
		img[i] = float32(i)
	}
	resp, err := n.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{
		floats("image", []int64{1, 3, 4, 4}, img...),
		floats("detection", []int64{1, 1, 2, 7}, 0, 1, 0.9, 0, 0, 0.5, 0.5, 0, 1, 0.9, 0.5, 0.5, 1, 1),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	for _, o := range resp.Outputs {
		if o.Name == "images" && o.Shape.String() != "(2,1,3,2,2)" {
			t.Errorf("images shape %v", o.Shape)
		}
	}
	if px := outFloats(t, resp, "images"); px[0] != 0 || px[3] != 5 {
		t.Errorf("first crop %v", px[:4])
	}
}

// TestCustomNodeOutputChecks: what a library answers is checked against
// the metadata it declared.
func TestCustomNodeOutputChecks(t *testing.T) {
	h := newHost(t, "fault")
	for lie, code := range map[string]apierr.Code{
		"type": apierr.NodeLibraryInvalidPrecision, "shape": apierr.NodeLibraryInvalidShape,
		"missing": apierr.NodeLibraryMissingOutput, "error": apierr.NodeLibraryExecutionFailed,
	} {
		n, err := h.Open(context.Background(), "fault", "n-"+lie, map[string]string{"lie": lie})
		if err != nil {
			t.Fatal(err)
		}
		_, err = n.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("x", []int64{2}, 1, 2)}})
		if !apierr.Is(err, code) {
			t.Errorf("lie %s: %v, want %v (%s)", lie, err, code, code.Message())
		}
		n.Close()
	}
	if _, err := h.Open(context.Background(), "fault", "n", map[string]string{"init": "fail"}); !apierr.Is(err, apierr.NodeLibraryInitializeFailed) {
		t.Errorf("init fail: %v", err)
	}
}

// TestCustomNodeCrash: a SIGKILL of the library process fails only the
// requests in flight on it; it is restarted, its nodes are loaded again,
// and later requests succeed. A node of another library is untouched.
func TestCustomNodeCrash(t *testing.T) {
	h := newHost(t, "fault", "argmax")
	slow, err := h.Open(context.Background(), "fault", "slow", map[string]string{"sleep_ms": "2000"})
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.Open(context.Background(), "fault", "fast", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.Open(context.Background(), "argmax", "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	pid, argmaxPid := h.Libraries()["fault"], h.Libraries()["argmax"]
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := slow.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("x", []int64{1}, 1)}})
			if err == nil {
				resp.Release()
			}
			errs[i] = err
		}()
	}
	time.Sleep(300 * time.Millisecond) // the requests are in the library now
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if !apierr.Is(err, apierr.NodeLibraryUnavailable) {
			t.Errorf("in-flight request %d: %v, want the library-ended error", i, err)
		}
	}
	// New requests wait for the restart and succeed, on both nodes.
	start := time.Now()
	resp, err := fast.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("x", []int64{2}, 5, 6)}})
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if y := outFloats(t, resp, "y"); y[1] != 6 {
		t.Errorf("y = %v", y)
	}
	resp.Release()
	t.Logf("first request after the kill answered in %v", time.Since(start))
	if np := h.Libraries()["fault"]; np == 0 || np == pid {
		t.Errorf("fault library pid %d after the restart (was %d)", np, pid)
	}
	if h.Libraries()["argmax"] != argmaxPid {
		t.Error("the other library was restarted too")
	}
	resp, err = other.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("scores", []int64{1, 2}, 1, 2)}})
	if err != nil {
		t.Fatalf("other library: %v", err)
	}
	resp.Release()
	// A poison request kills the process itself: only it fails.
	if _, err := fast.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("x", []int64{1}, -1)}}); !apierr.Is(err, apierr.NodeLibraryUnavailable) {
		t.Errorf("poison request: %v", err)
	}
	if resp, err := slow.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("x", []int64{1}, 3)}}); err != nil {
		t.Errorf("after the second restart: %v", err)
	} else {
		resp.Release()
	}
}

// TestCustomNodeApply: reload adds, keeps and removes libraries; a library
// that cannot start fails Open with the reason.
func TestCustomNodeApply(t *testing.T) {
	h := newHost(t, "argmax")
	pid := h.Libraries()["argmax"]
	n, err := h.Open(context.Background(), "argmax", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Apply(context.Background(), []config.NodeLibrary{
		{Name: "argmax", BasePath: filepath.Join(binDir, "ovms-node-argmax")},
		{Name: "crop", BasePath: binDir}, // a folder of several programs: ambiguous
		{Name: "gone", BasePath: filepath.Join(binDir, "nothing")},
	})
	if err == nil || !strings.Contains(err.Error(), "want one") || !strings.Contains(err.Error(), "nothing") {
		t.Errorf("Apply: %v", err)
	}
	if h.Libraries()["argmax"] != pid {
		t.Error("an unchanged library was restarted")
	}
	if _, err := h.Open(context.Background(), "gone", "g", nil); !apierr.Is(err, apierr.NodeLibraryMissing) || !errors.Is(err, ErrUnknownLibrary) {
		t.Errorf("Open on a library that did not start: %v", err)
	}
	if err := h.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{floats("scores", []int64{1, 2}, 1, 2)}}); !apierr.Is(err, apierr.NodeLibraryMissing) {
		t.Errorf("a node of a removed library: %v", err)
	}
	if len(h.Libraries()) != 0 {
		t.Errorf("Libraries after removing all: %v", h.Libraries())
	}
}

// TestCustomNodeLibraryIdentity: Library stays the same while a library
// keeps its base_path (a crash restart included), and changes when it
// leaves the list (nil), comes back or moves; an Open of a node whose
// params the library refuses is NODE_LIBRARY_INITIALIZE_FAILED.
func TestCustomNodeLibraryIdentity(t *testing.T) {
	h := newHost(t, "argmax")
	id := h.Library("argmax")
	if id == nil || h.Library("other") != nil {
		t.Fatalf("Library: %v, other %v", id, h.Library("other"))
	}
	if _, err := h.Open(context.Background(), "argmax", "bad", map[string]string{"rank": "x"}); !apierr.Is(err, apierr.NodeLibraryInitializeFailed) {
		t.Errorf("Open with params argmax refuses: %v", err)
	}
	same := []config.NodeLibrary{{Name: "argmax", BasePath: filepath.Join(binDir, "ovms-node-argmax")}}
	if err := h.Apply(context.Background(), same); err != nil || h.Library("argmax") != id {
		t.Errorf("an unchanged library changed identity: %v", err)
	}
	if err := h.Apply(context.Background(), nil); err != nil || h.Library("argmax") != nil {
		t.Errorf("a removed library: %v %v", h.Library("argmax"), err)
	}
	if err := h.Apply(context.Background(), same); err != nil || h.Library("argmax") == nil || h.Library("argmax") == id {
		t.Errorf("a library added back keeps its old identity (or none): %v", err)
	}
}

// BenchmarkCustomNodeArgmax is one request through a library process: the
// inputs written into its arena, Execute, the outputs checked and released.
func BenchmarkCustomNodeArgmax(b *testing.B) {
	h := New(pluginhost.Config{ArenaBytes: 64 << 20}, nil)
	defer h.Close()
	if err := h.Apply(context.Background(), []config.NodeLibrary{{Name: "argmax", BasePath: filepath.Join(binDir, "ovms-node-argmax")}}); err != nil {
		b.Fatal(err)
	}
	n, err := h.Open(context.Background(), "argmax", "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	req := &tensor.Request{Inputs: []tensor.Input{floats("scores", []int64{1, 1000}, make([]float32, 1000)...)}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := n.Infer(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Release()
	}
}

// A node closed while its library's restart loads it into the new process
// is unloaded from that process (deinitialized), not left there.
func TestCustomNodeCloseDuringRestart(t *testing.T) {
	h := newHost(t, "fault")
	trace := filepath.Join(t.TempDir(), "trace")
	n, err := h.Open(context.Background(), "fault", "n", map[string]string{"init_sleep_ms": "500", "trace": trace})
	if err != nil {
		t.Fatal(err)
	}
	lines := func() []string {
		b, _ := os.ReadFile(trace)
		return strings.Fields(string(b))
	}
	if err := syscall.Kill(h.Libraries()["fault"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The restart is loading the node (its initialize sleeps): close it now.
	for deadline := time.Now().Add(10 * time.Second); len(lines()) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the restart did not initialize the node again: %v", lines())
		}
	}
	n.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if l := lines(); len(l) == 3 && l[2] == "close" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %v: the node closed during the restart was never deinitialized in the new process", lines())
		}
	}
}
