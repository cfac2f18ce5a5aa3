// Package devicetest serves mock device plugins in process for the core's
// tests: the real go-plugin gRPC client and server shims over an in-memory
// connection and a real shared-memory arena, with a host.Mock behind them
// (for fault injection and for tests of code above the plugin boundary).
package devicetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// NewArena creates a 1 MiB arena closed with the test.
func NewArena(t testing.TB) *shm.Arena {
	t.Helper()
	arena, err := host.CreateArena("devicetest", 1<<20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arena.Close() })
	return arena
}

// Serve serves mock over an in-memory connection and returns it as the
// "cpu" plugin instance.
func Serve(t testing.TB, mock *host.Mock, arena *shm.Arena) *pluginhost.Instance {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{
		host.PluginName: &host.Plugin{Impl: mock, Arena: arena},
	})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(host.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return pluginhost.Attach("cpu", raw.(*host.Client), arena, &device.Info{Name: "mock", Devices: []string{"CPU"}})
}

// Devices hands out one instance for the "cpu" family and reports every
// other family as missing, as the real host does without the binary.
type Devices struct {
	// Instance is the "cpu" plugin.
	Instance *pluginhost.Instance
}

// Get returns the instance of a family.
func (d Devices) Get(_ context.Context, family string) (*pluginhost.Instance, error) {
	if family != "cpu" {
		return nil, fmt.Errorf("device plugin ovms-device-%s not found", family)
	}
	return d.Instance, nil
}

// DummyInfo is the metadata of OVMS's dummy model: b [1,10] FP32 -> a.
var DummyInfo = &device.ModelInfo{
	Inputs:  []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{1, 10}}},
	Outputs: []device.TensorInfo{{Name: "a", DType: device.Float32, Shape: []int64{1, 10}}},
}

// AddOne returns a mock whose every model has info (DummyInfo if nil) and
// whose Infer adds one to the first input (FP32) into an output named after
// info's first output, allocated in the plugin zone as a real plugin does.
func AddOne(arena *shm.Arena, info *device.ModelInfo) *host.Mock {
	if info == nil {
		info = DummyInfo
	}
	return &host.Mock{
		LoadF:   func(context.Context, *device.LoadRequest) (*device.ModelInfo, error) { return info, nil },
		UnloadF: func(context.Context, device.ModelKey) error { return nil },
		InferF: func(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
			in := req.Inputs[0]
			src, err := arena.Bytes(in.Offset, in.Length)
			if err != nil {
				return nil, err
			}
			off, err := arena.PluginZone().Alloc(in.Length)
			if err != nil {
				return nil, err
			}
			dst, _ := arena.Bytes(off, in.Length)
			for i := 0; i+4 <= len(src); i += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(src[i:]))
				binary.LittleEndian.PutUint32(dst[i:], math.Float32bits(v+1))
			}
			out := device.TensorRef{Name: info.Outputs[0].Name, DType: device.Float32, Shape: in.Shape, Offset: off, Length: in.Length}
			return &device.InferResponse{Outputs: []device.TensorRef{out}}, nil
		},
	}
}
