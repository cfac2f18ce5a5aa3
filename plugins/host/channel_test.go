package host_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/host/dataplane"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// connectChannel is connect with the shared-memory data plane attached.
func connectChannel(t *testing.T, mock *host.Mock) (*host.Client, *shm.Arena, *dataplane.Channel) {
	t.Helper()
	arena, err := host.CreateArena("channel-test", 1<<20, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arena.Close() })
	ch, err := dataplane.CreateChannel(16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	client, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{
		host.PluginName: &host.Plugin{Impl: mock, Arena: arena, Channel: ch.Plugin()},
	})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(host.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*host.Client)
	c.AttachChannel(ch.Host(), arena)
	return c, arena, ch
}

func TestChannelCarriesBigRequestsAndResults(t *testing.T) {
	var arena *shm.Arena
	var seen int
	mock := &host.Mock{InferF: func(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
		seen = len(req.Inputs)
		resp := &device.InferResponse{}
		for i := 0; i < 40; i++ { // far more than a ring slot holds
			off, err := arena.PluginZone().Alloc(4)
			if err != nil {
				return nil, err
			}
			resp.Outputs = append(resp.Outputs, device.TensorRef{Name: fmt.Sprintf("output_with_a_long_name_%02d", i), DType: device.Float32, Shape: []int64{1, 1, 1, 1}, Offset: off, Length: 4})
		}
		return resp, nil
	}}
	c, a, _ := connectChannel(t, mock)
	arena = a
	var inputs []device.TensorRef
	for i := 0; i < 30; i++ {
		off, _ := arena.HostZone().Alloc(4)
		inputs = append(inputs, device.TensorRef{Name: strings.Repeat("x", 20) + fmt.Sprint(i), DType: device.Float32, Shape: []int64{1}, Offset: off, Length: 4})
	}
	before := arena.HostZone().Allocations()
	resp, err := c.Infer(context.Background(), &device.InferRequest{Model: device.ModelKey{Name: "m", Version: 1}, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 30 || len(resp.Outputs) != 40 || resp.Outputs[39].Name != "output_with_a_long_name_39" {
		t.Fatalf("plugin saw %d inputs; host got %d outputs", seen, len(resp.Outputs))
	}
	if n := arena.HostZone().Allocations(); n != before {
		t.Errorf("request message buffer not freed: %d allocations, had %d", n, before)
	}
	// 40 outputs plus the buffer that carried the encoded result.
	if n := arena.PluginZone().Allocations(); n != 41 {
		t.Errorf("plugin zone holds %d buffers, want 41", n)
	}
	if err := c.Release(context.Background(), resp.Lease); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for arena.PluginZone().Allocations() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := arena.PluginZone().Allocations(); n != 0 {
		t.Errorf("%d buffers left after release", n)
	}
}

func TestChannelErrorsAndPluginLoss(t *testing.T) {
	block := make(chan struct{})
	mock := &host.Mock{InferF: func(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
		if req.Model.Name == "slow" {
			<-block
		}
		return nil, status.Error(codes.InvalidArgument, "bad input b")
	}}
	c, _, ch := connectChannel(t, mock)
	_, err := c.Infer(context.Background(), &device.InferRequest{Model: device.ModelKey{Name: "m"}})
	if s, _ := status.FromError(err); s.Code() != codes.InvalidArgument || s.Message() != "bad input b" {
		t.Fatalf("error over the channel: %v", err)
	}
	done := make(chan error)
	go func() {
		_, err := c.Infer(context.Background(), &device.InferRequest{Model: device.ModelKey{Name: "slow"}})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	ch.Close() // the plugin is gone
	c.Close()
	select {
	case err := <-done:
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("in-flight request after the plugin went away: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request hangs after the plugin went away")
	}
	close(block)
	if _, err := c.Infer(context.Background(), &device.InferRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("request after the plugin went away: %v", err)
	}
}
