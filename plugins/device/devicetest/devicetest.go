// Package devicetest is the contract-test kit for device plugin authors: it
// serves a device.Factory in the test process through the SDK's real
// plumbing (the gRPC server shim, output leases and a real shared-memory
// arena, over an in-memory connection) and checks what ovms relies on.
//
//	func TestContract(t *testing.T) {
//		devicetest.Contract(t, newNegate, devicetest.Model{Path: "testdata/dummy/1"})
//	}
//
// Start gives a Harness for a plugin's own tests (Load, Infer with Go
// values, leaks in the arena).
package devicetest

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// ArenaBytes is the size of a Harness's arena.
const ArenaBytes = 64 << 20

// Harness is a device served in process as ovms would serve it.
type Harness struct {
	t      testing.TB
	client *host.Client
	arena  *shm.Arena
}

// Start builds the device with factory behind the SDK's gRPC shim and
// returns the host's side of it; everything is closed with the test.
func Start(t testing.TB, factory device.Factory) *Harness {
	t.Helper()
	arena, err := host.CreateArena("devicetest", ArenaBytes, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arena.Close() })
	log := logrus.New()
	log.SetOutput(testWriter{t})
	log.SetLevel(logrus.WarnLevel)
	regions := shm.NewRegionTable()
	dev, err := factory(&device.Env{Arena: arena, Logger: log.WithField("plugin", "devicetest"), Regions: regions})
	if err != nil {
		t.Fatalf("device factory: %v", err)
	}
	conn, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{
		host.PluginName: &host.Plugin{Impl: dev, Arena: arena, Regions: regions},
	})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.Dispense(host.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{t: t, client: raw.(*host.Client), arena: arena}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// Info asks the device to describe itself.
func (h *Harness) Info() (*device.Info, error) { return h.client.Info(context.Background()) }

// Load loads a model version.
func (h *Harness) Load(req *device.LoadRequest) (*device.ModelInfo, error) {
	return h.client.Load(context.Background(), req)
}

// Unload unloads a model version.
func (h *Harness) Unload(key device.ModelKey) error {
	return h.client.Unload(context.Background(), key)
}

// Tensor is a tensor as Go values: Data is its bytes as in the arena
// (little-endian, row-major; String tensors as device.PutStrings lays them).
type Tensor struct {
	// Name is the input or output name.
	Name string
	// DType is the element type.
	DType device.DataType
	// Shape holds the dimensions.
	Shape []int64
	// Data is the tensor's bytes.
	Data []byte
}

// Float32 makes an FP32 tensor.
func Float32(name string, shape []int64, values ...float32) Tensor {
	t := Tensor{Name: name, DType: device.Float32, Shape: shape, Data: make([]byte, 4*len(values))}
	copy(device.View[float32](t.Data), values)
	return t
}

// Float32s are the values of an FP32 tensor.
func (t Tensor) Float32s() []float32 { return append([]float32(nil), device.View[float32](t.Data)...) }

// Zeros makes a tensor of zeros for a model input (dynamic dimensions as 1;
// one empty element for String).
func Zeros(info device.TensorInfo) Tensor {
	t := Tensor{Name: info.Name, DType: info.DType, Shape: make([]int64, len(info.Shape))}
	n := int64(1)
	for i, d := range info.Shape {
		t.Shape[i] = max(d, 1)
		n *= t.Shape[i]
	}
	if info.DType == device.String {
		t.Data = make([]byte, 4*n)
	} else {
		t.Data = make([]byte, n*int64(info.DType.Size()))
	}
	return t
}

// Infer runs one request as the core does: inputs copied into the host
// zone, the answer's outputs checked (in the plugin zone or nowhere, sizes
// that match their shapes) and copied out, and the lease released.
// outputs names the outputs to ask for (none: all).
func (h *Harness) Infer(key device.ModelKey, inputs []Tensor, outputs ...string) ([]Tensor, error) {
	req := &device.InferRequest{Model: key, Outputs: outputs}
	zone := h.arena.HostZone()
	for _, in := range inputs {
		off, err := zone.Alloc(uint64(len(in.Data)))
		if err != nil {
			return nil, err
		}
		defer zone.Free(off)
		b, _ := h.arena.Bytes(off, uint64(len(in.Data)))
		copy(b, in.Data)
		req.Inputs = append(req.Inputs, device.TensorRef{Name: in.Name, DType: in.DType, Shape: in.Shape, Offset: off, Length: uint64(len(in.Data))})
	}
	resp, err := h.client.Infer(context.Background(), req)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := h.client.Release(context.Background(), resp.Lease); err != nil {
			h.t.Errorf("releasing lease %d: %v", resp.Lease, err)
		}
	}()
	out := make([]Tensor, len(resp.Outputs))
	for i, ref := range resp.Outputs {
		b, err := h.arena.Bytes(ref.Offset, ref.Length)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", ref.Name, err)
		}
		if err := checkSize(ref, b); err != nil {
			return nil, err
		}
		out[i] = Tensor{Name: ref.Name, DType: ref.DType, Shape: ref.Shape, Data: append([]byte(nil), b...)}
	}
	return out, nil
}

// checkSize checks that an output's bytes match its shape.
func checkSize(ref device.TensorRef, b []byte) error {
	if !ref.DType.Valid() {
		return fmt.Errorf("output %q: invalid data type %v", ref.Name, ref.DType)
	}
	n := uint64(1)
	for _, d := range ref.Shape {
		if d < 0 {
			return fmt.Errorf("output %q: negative dimension in shape %v", ref.Name, ref.Shape)
		}
		n *= uint64(d)
	}
	if ref.DType == device.String {
		elems, err := device.SplitStrings(b)
		if err != nil || uint64(len(elems)) != n {
			return fmt.Errorf("output %q: %d strings for shape %v (%v)", ref.Name, len(elems), ref.Shape, err)
		}
		return nil
	}
	if want := n * uint64(ref.DType.Size()); ref.Length != want {
		return fmt.Errorf("output %q: %d bytes for shape %v of %v (want %d)", ref.Name, ref.Length, ref.Shape, ref.DType, want)
	}
	return nil
}

// Allocations is the number of live output buffers in the plugin zone:
// zero whenever no response is held, or the device leaks.
func (h *Harness) Allocations() int { return h.arena.PluginZone().Allocations() }

// Model is the model a contract test runs.
type Model struct {
	// Path is a version folder the device can load.
	Path string
	// TargetDevice is passed in the LoadRequest (default: the first of
	// the device's Info.Devices).
	TargetDevice string
	// Inputs are a request's inputs; nil: zeros of the model's inputs.
	Inputs []Tensor
	// Check, if set, checks the outputs of Inputs.
	Check func(t testing.TB, inputs, outputs []Tensor)
}

// Contract checks a device against what ovms relies on, in subtests: Info
// names the plugin and its devices; Load describes the model; Infer answers
// every output (or only those asked for) with sizes that match their
// shapes and leaks nothing; a second Load of a key replaces it; Unload of an
// unknown key is no error; Infer on an unloaded model fails without a leak;
// concurrent Infer calls agree; a folder without a model fails to load.
func Contract(t *testing.T, factory device.Factory, m Model) {
	h := Start(t, factory)
	info, err := h.Info()
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	t.Run("Info", func(t *testing.T) {
		if info.Name == "" || len(info.Devices) == 0 {
			t.Errorf("Info %+v: want a name and the target devices served", info)
		}
	})
	if m.TargetDevice == "" && len(info.Devices) > 0 {
		m.TargetDevice = info.Devices[0]
	}
	key := device.ModelKey{Name: "contract", Version: 1}
	mi, err := h.Load(&device.LoadRequest{Model: key, Path: m.Path, TargetDevice: m.TargetDevice})
	if err != nil {
		t.Fatalf("Load %s: %v", m.Path, err)
	}
	t.Run("Load", func(t *testing.T) {
		if len(mi.Outputs) == 0 {
			t.Fatalf("Load: no outputs in %+v", mi)
		}
		for _, ti := range append(append([]device.TensorInfo(nil), mi.Inputs...), mi.Outputs...) {
			if ti.Name == "" || !ti.DType.Valid() {
				t.Errorf("tensor %+v: want a name and a valid data type", ti)
			}
		}
	})
	inputs := m.Inputs
	if inputs == nil {
		for _, in := range mi.Inputs {
			inputs = append(inputs, Zeros(in))
		}
	}
	var first []Tensor
	t.Run("Infer", func(t *testing.T) {
		out, err := h.Infer(key, inputs)
		if err != nil {
			t.Fatalf("Infer: %v", err)
		}
		got := map[string]bool{}
		for _, o := range out {
			got[o.Name] = true
		}
		for _, o := range mi.Outputs {
			if !got[o.Name] {
				t.Errorf("output %q missing from %d outputs", o.Name, len(out))
			}
		}
		if m.Check != nil {
			m.Check(t, inputs, out)
		}
		if n := h.Allocations(); n != 0 {
			t.Errorf("%d output buffers left in the plugin zone after the lease was released", n)
		}
		first = out
	})
	t.Run("InferOneOutput", func(t *testing.T) {
		name := mi.Outputs[len(mi.Outputs)-1].Name
		out, err := h.Infer(key, inputs, name)
		if err != nil {
			t.Fatalf("Infer asking for %q: %v", name, err)
		}
		if len(out) != 1 || out[0].Name != name {
			t.Errorf("asked for %q, got %d outputs", name, len(out))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			go func() {
				var err error
				for i := 0; i < 10 && err == nil; i++ {
					var out []Tensor
					if out, err = h.Infer(key, inputs); err == nil && first != nil && !sameOutputs(out, first) {
						err = fmt.Errorf("concurrent Infer answered differently")
					}
				}
				errs <- err
			}()
		}
		for g := 0; g < 8; g++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if n := h.Allocations(); n != 0 {
			t.Errorf("%d output buffers leaked", n)
		}
	})
	t.Run("Reload", func(t *testing.T) {
		if _, err := h.Load(&device.LoadRequest{Model: key, Path: m.Path, TargetDevice: m.TargetDevice}); err != nil {
			t.Fatalf("second Load of a loaded key: %v", err)
		}
		if _, err := h.Infer(key, inputs); err != nil {
			t.Errorf("Infer after reload: %v", err)
		}
	})
	t.Run("Unload", func(t *testing.T) {
		if err := h.Unload(device.ModelKey{Name: "never-loaded", Version: 7}); err != nil {
			t.Errorf("Unload of an unknown key: %v", err)
		}
		if err := h.Unload(key); err != nil {
			t.Fatalf("Unload: %v", err)
		}
		if _, err := h.Infer(key, inputs); err == nil {
			t.Error("Infer on an unloaded model succeeded")
		}
		if n := h.Allocations(); n != 0 {
			t.Errorf("a failed Infer left %d buffers in the plugin zone", n)
		}
	})
	t.Run("LoadWithoutModel", func(t *testing.T) {
		if _, err := h.Load(&device.LoadRequest{Model: key, Path: t.TempDir(), TargetDevice: m.TargetDevice}); err == nil {
			t.Error("Load of an empty folder succeeded")
		}
	})
}

// sameOutputs compares outputs by name, treating NaNs of FP32 as equal.
func sameOutputs(a, b []Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	byName := map[string]Tensor{}
	for _, t := range b {
		byName[t.Name] = t
	}
	for _, t := range a {
		u, ok := byName[t.Name]
		if !ok || len(t.Data) != len(u.Data) || fmt.Sprint(t.Shape) != fmt.Sprint(u.Shape) {
			return false
		}
		if t.DType == device.Float32 {
			x, y := t.Float32s(), u.Float32s()
			for i := range x {
				if x[i] != y[i] && !(math.IsNaN(float64(x[i])) && math.IsNaN(float64(y[i]))) {
					return false
				}
			}
			continue
		}
		if string(t.Data) != string(u.Data) {
			return false
		}
	}
	return true
}
