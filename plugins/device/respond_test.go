package device_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

func env(t *testing.T) *device.Env {
	arena, err := host.CreateArena("respond-test", 1<<20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arena.Close() })
	return &device.Env{Arena: arena, Regions: shm.NewRegionTable()}
}

// input puts FP32 values into the host zone as the core does.
func input(t *testing.T, e *device.Env, name string, v ...float32) device.TensorRef {
	off, err := e.Arena.HostZone().Alloc(uint64(4 * len(v)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Arena.Bytes(off, uint64(4*len(v)))
	copy(device.View[float32](b), v)
	return device.TensorRef{Name: name, DType: device.Float32, Shape: []int64{int64(len(v))}, Offset: off, Length: uint64(4 * len(v))}
}

// TestRespondFreesOnError: outputs allocated before run fails (or panics)
// go back to the plugin zone.
func TestRespondFreesOnError(t *testing.T) {
	e := env(t)
	req := &device.InferRequest{Inputs: []device.TensorRef{input(t, e, "x", 1, 2)}}
	boom := errors.New("boom")
	_, err := e.Respond(req, func(c *device.Call) error {
		if _, err := c.Output("y", device.Float32, []int64{2}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || e.Arena.PluginZone().Allocations() != 0 {
		t.Fatalf("err %v, %d allocations left", err, e.Arena.PluginZone().Allocations())
	}
	func() {
		defer func() { _ = recover() }()
		_, _ = e.Respond(req, func(c *device.Call) error {
			_, _ = c.Output("y", device.Float32, []int64{2})
			panic("engine bug")
		})
	}()
	if n := e.Arena.PluginZone().Allocations(); n != 0 {
		t.Fatalf("a panic left %d allocations", n)
	}
	if _, err := e.Respond(req, func(c *device.Call) error { _, _, err := c.Input("nope"); return err }); err == nil {
		t.Fatal("a missing input was found")
	}
}

// TestRespondOutputs: outputs are written in the plugin zone with sizes from
// their shapes, the ones not asked for are dropped and freed, engine times
// are set.
func TestRespondOutputs(t *testing.T) {
	e := env(t)
	req := &device.InferRequest{Inputs: []device.TensorRef{input(t, e, "x", 1, -2, 3)}, Outputs: []string{"neg"}}
	resp, err := e.Respond(req, func(c *device.Call) error {
		in, x, err := c.Input("x")
		if err != nil {
			return err
		}
		for _, name := range []string{"copy", "neg"} {
			y, err := c.Output(name, in.DType, in.Shape)
			if err != nil {
				return err
			}
			for i, v := range device.View[float32](x) {
				if name == "neg" {
					v = -v
				}
				device.View[float32](y)[i] = v
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "neg" || resp.Outputs[0].Length != 12 || resp.EngineEnd < resp.EngineStart || resp.EngineStart == 0 {
		t.Fatalf("response %+v", resp)
	}
	if n := e.Arena.PluginZone().Allocations(); n != 1 {
		t.Fatalf("%d allocations, want the one output kept", n)
	}
	b, _ := e.Arena.Bytes(resp.Outputs[0].Offset, resp.Outputs[0].Length)
	if got := device.View[float32](b); got[0] != -1 || got[1] != 2 || got[2] != -3 {
		t.Fatalf("neg = %v", got)
	}
	if _, err := e.Respond(req, func(c *device.Call) error { _, err := c.Output("s", device.String, []int64{1}); return err }); err == nil {
		t.Fatal("Output of a String tensor without a size accepted")
	}
	_, err = e.Respond(req, func(c *device.Call) error {
		_, _ = c.Output("neg", device.Float32, []int64{3})
		_, err := c.Output("neg", device.Float32, []int64{3})
		return err
	})
	if err == nil || e.Arena.PluginZone().Allocations() != 1 {
		t.Fatalf("an output allocated twice: %v, %d allocations", err, e.Arena.PluginZone().Allocations())
	}
}

// TestRespondPlacement: an output the host placed in a client region is
// written there, not leased from the arena; one too large for its room is
// refused; a region truncated during the call fails the request with the
// region error (OUT_OF_RANGE), freeing what was allocated in the arena.
func TestRespondPlacement(t *testing.T) {
	e := env(t)
	path := filepath.Join(shm.ClientDir, fmt.Sprintf("ovms-respond-test-%d", os.Getpid()))
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	if err := e.Regions.Map(shm.RegionSpec{ID: 7, Name: "out", Path: path, Size: 4096}); err != nil {
		t.Fatal(err)
	}
	defer e.Regions.Unmap(7)
	x := input(t, e, "x", 1, 2)
	req := &device.InferRequest{Inputs: []device.TensorRef{x},
		Placements: []device.TensorRef{{Name: "y", Region: 7, Offset: 128, Length: 8}}}
	negate := func(c *device.Call) error {
		_, src, err := c.Input("x")
		if err != nil {
			return err
		}
		dst, err := c.Output("y", device.Float32, []int64{2})
		if err != nil {
			return err
		}
		for i, v := range device.View[float32](src) {
			device.View[float32](dst)[i] = -v
		}
		_, err = c.Output("z", device.Float32, []int64{2}) // in the arena
		return err
	}
	resp, err := e.Respond(req, negate)
	if err != nil {
		t.Fatal(err)
	}
	if y := resp.Outputs[0]; y.Region != 7 || y.Offset != 128 || y.Length != 8 {
		t.Fatalf("y %+v, want in its placement", y)
	}
	data, _ := os.ReadFile(path)
	if got := device.View[float32](data[128:136]); got[0] != -1 || got[1] != -2 {
		t.Fatalf("region holds %v", got)
	}
	_ = e.Arena.PluginZone().Free(resp.Outputs[1].Offset) // the host's release
	req.Placements[0].Length = 4
	if _, err := e.Respond(req, negate); status.Code(err) != codes.InvalidArgument || e.Arena.PluginZone().Allocations() != 0 {
		t.Fatalf("an output larger than its placement: %v, %d allocations", err, e.Arena.PluginZone().Allocations())
	}
	req.Placements[0].Length = 8
	_, err = e.Respond(req, func(c *device.Call) error {
		if _, err := c.Output("z", device.Float32, []int64{2}); err != nil {
			return err
		}
		if err := os.Truncate(path, 64); err != nil { // the client shrinks its object meanwhile
			return err
		}
		_, err := c.Output("y", device.Float32, []int64{2})
		return err
	})
	if status.Code(err) != codes.OutOfRange || e.Arena.PluginZone().Allocations() != 0 {
		t.Fatalf("a region truncated during the call: %v, %d allocations", err, e.Arena.PluginZone().Allocations())
	}
}
