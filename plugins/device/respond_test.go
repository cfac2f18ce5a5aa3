package device_test

import (
	"errors"
	"testing"

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
}
