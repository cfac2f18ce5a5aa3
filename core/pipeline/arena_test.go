package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestTensorsStayInTheArena runs request -> a -> b -> response on the
// real model manager and plugin shims (a mock device that adds one): b
// reads a's output where the plugin wrote it, in the plugin zone, and
// only the request's input is copied into the host zone.
func TestTensorsStayInTheArena(t *testing.T) {
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, devicetest.DummyInfo)
	var mu sync.Mutex
	var seen []device.TensorRef
	infer := mock.InferF
	mock.InferF = func(ctx context.Context, req *device.InferRequest) (*device.InferResponse, error) {
		mu.Lock()
		seen = append(seen, req.Inputs[0])
		mu.Unlock()
		return infer(ctx, req)
	}
	log := logrus.NewEntry(logrus.New())
	mgr := modelmanager.New(devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}, log)
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := config.DefaultModel()
	m.Name, m.BasePath = "dummy", base
	if err := mgr.Apply(context.Background(), []config.Model{m}); err != nil {
		t.Fatal(err)
	}
	p := config.Pipeline{Name: "p", Inputs: []string{"in"},
		Nodes:   []config.Node{dl("a", "dummy", conn("b", "request", "in")), dl("b", "dummy", conn("b", "a", "a_out"))},
		Outputs: []config.Connection{conn("out", "b", "b_out")}}
	for i := range p.Nodes {
		p.Nodes[i].Outputs[0].DataItem = "a"
	}
	r := New(mgr, nil, log)
	r.Apply(context.Background(), []config.Pipeline{p})
	v, err := mgr.Acquire(context.Background(), "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Release()
	x := make([]float32, 10)
	for i := range x {
		x[i] = float32(i)
	}
	resp, err := v.Infer(context.Background(), &tensor.Request{Inputs: []tensor.Input{input("in", []int64{1, 10}, x...)}})
	if err != nil {
		t.Fatal(err)
	}
	_, got := output(t, resp, "out")
	want := make([]float32, 10)
	for i := range want {
		want[i] = float32(i) + 2
	}
	if !slices.Equal(got, want) {
		t.Errorf("out %v", got)
	}
	resp.Release()
	if len(seen) != 2 {
		t.Fatalf("%d plugin calls", len(seen))
	}
	if !arena.HostZone().Contains(seen[0].Offset, seen[0].Length) {
		t.Errorf("the request's input is not in the host zone: %+v", seen[0])
	}
	if !arena.PluginZone().Contains(seen[1].Offset, seen[1].Length) {
		t.Errorf("b's input was copied out of the plugin zone: %+v", seen[1])
	}
	if n := arena.PluginZone().Allocations(); n != 0 {
		t.Errorf("%d output buffers left after the response was released", n)
	}
}
