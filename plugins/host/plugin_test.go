package host_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// connect serves mock over an in-memory gRPC connection and returns the
// host-side client, both sides sharing one arena.
func connect(t *testing.T, mock *host.Mock) (*host.Client, *shm.Arena) {
	t.Helper()
	arena, err := host.CreateArena("contract-test", 1<<20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arena.Close() })
	client, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{
		host.PluginName: &host.Plugin{Impl: mock, Arena: arena},
	})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(host.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*host.Client), arena
}

func TestInfoLoadUnloadRoundTrip(t *testing.T) {
	var gotLoad *device.LoadRequest
	var gotUnload device.ModelKey
	c, _ := connect(t, &host.Mock{
		InfoF: func(context.Context) (*device.Info, error) {
			return &device.Info{Name: "mock", Version: "v1", Engine: "none", Devices: []string{"CPU", "MOCK"}}, nil
		},
		LoadF: func(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
			gotLoad = req
			return &device.ModelInfo{
				Inputs:      []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{-1, 10}}},
				Outputs:     []device.TensorInfo{{Name: "a", DType: device.Float16, Shape: []int64{}}},
				EmptyUnsafe: []string{"LSTM"},
			}, nil
		},
		UnloadF: func(_ context.Context, k device.ModelKey) error { gotUnload = k; return nil },
	})
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil || info.Name != "mock" || len(info.Devices) != 2 || info.Devices[1] != "MOCK" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	mi, err := c.Load(ctx, &device.LoadRequest{
		Model: device.ModelKey{Name: "dummy", Version: 3}, Path: "/m/3",
		PluginConfig: map[string]string{"NUM_STREAMS": "2"}, TargetDevice: "CPU", Nireq: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotLoad.Model.Version != 3 || gotLoad.Path != "/m/3" || gotLoad.PluginConfig["NUM_STREAMS"] != "2" || gotLoad.Nireq != 4 {
		t.Errorf("plugin saw %+v", gotLoad)
	}
	if mi.Inputs[0].Shape[0] != -1 || mi.Inputs[0].DType != device.Float32 || mi.Outputs[0].DType != device.Float16 || len(mi.Outputs[0].Shape) != 0 ||
		len(mi.EmptyUnsafe) != 1 || mi.EmptyUnsafe[0] != "LSTM" {
		t.Errorf("metadata = %+v", mi)
	}
	if err := c.Unload(ctx, device.ModelKey{Name: "dummy", Version: 3}); err != nil || gotUnload.Version != 3 {
		t.Errorf("Unload: %v, plugin saw %+v", err, gotUnload)
	}
}

func TestInferLeasesOutputsUntilRelease(t *testing.T) {
	var arena *shm.Arena
	mock := &host.Mock{InferF: func(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
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
		for i := range src {
			dst[i] = src[i] + 1
		}
		return &device.InferResponse{Outputs: []device.TensorRef{{Name: "a", DType: device.Uint8, Shape: in.Shape, Offset: off, Length: in.Length}}}, nil
	}}
	c, a := connect(t, mock)
	arena = a
	off, err := arena.HostZone().Alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := arena.Bytes(off, 4)
	copy(in, []byte{1, 2, 3, 4})
	resp, err := c.Infer(context.Background(), &device.InferRequest{
		Model:  device.ModelKey{Name: "m", Version: 1},
		Inputs: []device.TensorRef{{Name: "b", DType: device.Uint8, Shape: []int64{2, 2}, Offset: off, Length: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := resp.Outputs[0]
	got, _ := arena.Bytes(out.Offset, out.Length)
	if string(got) != string([]byte{2, 3, 4, 5}) || out.Shape[1] != 2 || resp.Lease == 0 {
		t.Fatalf("output %v %+v lease %d", got, out, resp.Lease)
	}
	if n := arena.PluginZone().Allocations(); n != 1 {
		t.Fatalf("plugin zone holds %d allocations before release, want 1", n)
	}
	if err := c.Release(context.Background(), resp.Lease); err != nil {
		t.Fatal(err)
	}
	if n := arena.PluginZone().Allocations(); n != 0 {
		t.Fatalf("plugin zone holds %d allocations after release, want 0", n)
	}
	if err := c.Release(context.Background(), resp.Lease); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("second release: %v, want InvalidArgument", err)
	}
}

func TestInferRejectsInputsOutsideHostZone(t *testing.T) {
	called := false
	c, arena := connect(t, &host.Mock{InferF: func(context.Context, *device.InferRequest) (*device.InferResponse, error) {
		called = true
		return &device.InferResponse{}, nil
	}})
	for _, ref := range []device.TensorRef{
		{Name: "x", Offset: arena.Layout().Split, Length: 1},   // plugin zone
		{Name: "x", Offset: arena.Size() - 1, Length: 1 << 40}, // past the end
		{Name: "x", Offset: ^uint64(0), Length: 2},             // overflow
	} {
		_, err := c.Infer(context.Background(), &device.InferRequest{Inputs: []device.TensorRef{ref}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("ref %+v: %v, want InvalidArgument", ref, err)
		}
	}
	if called {
		t.Error("device was called with an out-of-zone input")
	}
}

func TestErrorsKeepTheirCode(t *testing.T) {
	c, _ := connect(t, &host.Mock{
		LoadF: func(context.Context, *device.LoadRequest) (*device.ModelInfo, error) {
			return nil, status.Error(codes.FailedPrecondition, "cannot compile")
		},
		InferF: func(context.Context, *device.InferRequest) (*device.InferResponse, error) {
			return nil, errors.New("plain failure")
		},
	})
	_, err := c.Load(context.Background(), &device.LoadRequest{})
	if s, _ := status.FromError(err); s.Code() != codes.FailedPrecondition || s.Message() != "cannot compile" {
		t.Errorf("Load error %v", err)
	}
	_, err = c.Infer(context.Background(), &device.InferRequest{})
	if s, _ := status.FromError(err); s.Code() != codes.Internal || s.Message() != "plain failure" {
		t.Errorf("Infer error %v", err)
	}
	if _, err := c.Info(context.Background()); status.Code(err) != codes.Unimplemented {
		t.Errorf("Info on a mock without InfoF: %v", err)
	}
}

func TestOutputOutsidePluginZoneIsRejected(t *testing.T) {
	c, arena := connect(t, &host.Mock{InferF: func(context.Context, *device.InferRequest) (*device.InferResponse, error) {
		return &device.InferResponse{Outputs: []device.TensorRef{{Name: "a", Offset: 0, Length: 8}}}, nil
	}})
	_ = arena
	if _, err := c.Infer(context.Background(), &device.InferRequest{}); status.Code(err) != codes.Internal {
		t.Fatalf("got %v, want Internal", err)
	}
}

// TestInferTakesLeasedOutputsAsInputs: a part of an output still leased to
// the host may be the next request's input (a pipeline's next node reads
// it in place); once released it may not.
func TestInferTakesLeasedOutputsAsInputs(t *testing.T) {
	var arena *shm.Arena
	mock := &host.Mock{InferF: func(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
		in := req.Inputs[0]
		off, err := arena.PluginZone().Alloc(in.Length)
		if err != nil {
			return nil, err
		}
		src, _ := arena.Bytes(in.Offset, in.Length)
		dst, _ := arena.Bytes(off, in.Length)
		copy(dst, src)
		return &device.InferResponse{Outputs: []device.TensorRef{{Name: "a", DType: device.Uint8, Shape: []int64{int64(in.Length)}, Offset: off, Length: in.Length}}}, nil
	}}
	c, a := connect(t, mock)
	arena = a
	off, err := arena.HostZone().Alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := arena.Bytes(off, 4)
	copy(b, []byte{1, 2, 3, 4})
	first, err := c.Infer(context.Background(), &device.InferRequest{Inputs: []device.TensorRef{{Name: "b", DType: device.Uint8, Shape: []int64{4}, Offset: off, Length: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	out := first.Outputs[0]
	part := device.TensorRef{Name: "b", DType: device.Uint8, Shape: []int64{2}, Offset: out.Offset + 2, Length: 2}
	second, err := c.Infer(context.Background(), &device.InferRequest{Inputs: []device.TensorRef{part}})
	if err != nil {
		t.Fatalf("a leased output as input: %v", err)
	}
	if got, _ := arena.Bytes(second.Outputs[0].Offset, 2); string(got) != string([]byte{3, 4}) {
		t.Errorf("read %v", got)
	}
	beyond := part
	beyond.Length = 3 // past the leased output
	if _, err := c.Infer(context.Background(), &device.InferRequest{Inputs: []device.TensorRef{beyond}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("past a leased output: %v", err)
	}
	if err := c.Release(context.Background(), first.Lease, second.Lease); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Infer(context.Background(), &device.InferRequest{Inputs: []device.TensorRef{part}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a released output as input: %v", err)
	}
}
