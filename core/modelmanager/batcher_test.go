package modelmanager

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/internal/devicetest"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

var batchable = &device.ModelInfo{
	Inputs:  []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{-1, 2}}},
	Outputs: []device.TensorInfo{{Name: "a", DType: device.Float32, Shape: []int64{-1, 2}}},
}

// batchingModel serves a +1 model with dynamic batching and records the
// batch sizes the device saw.
func batchingModel(t *testing.T, info *device.ModelInfo, db *config.DynamicBatching) (*Manager, *devicetest.Devices, func() []int64) {
	t.Helper()
	arena := devicetest.NewArena(t)
	mock := devicetest.AddOne(arena, info)
	var mu sync.Mutex
	var sizes []int64
	infer := mock.InferF
	mock.InferF = func(ctx context.Context, req *device.InferRequest) (*device.InferResponse, error) {
		mu.Lock()
		sizes = append(sizes, req.Inputs[0].Shape[0])
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // a busy device, so requests queue up
		return infer(ctx, req)
	}
	devs := devicetest.Devices{Instance: devicetest.Serve(t, mock, arena)}
	m := New(devs, quiet())
	cfg := model("m", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy)
	cfg.DynamicBatching = db
	if err := m.Apply(context.Background(), []config.Model{cfg}); err != nil {
		t.Fatal(err)
	}
	return m, &devs, func() []int64 { mu.Lock(); defer mu.Unlock(); return append([]int64(nil), sizes...) }
}

func rowRequest(rows int, first float32) *tensor.Request {
	vals := make(tensor.Numbers[float32], 2*rows)
	for i := range vals {
		vals[i] = first + float32(i)
	}
	return &tensor.Request{Inputs: []tensor.Input{{Name: "b", DType: device.Float32, DTypeName: "FP32", Shape: tensor.Shape{int64(rows), 2}, Values: vals}}}
}

func floatsOf(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func TestBatcherGathersConcurrentRequests(t *testing.T) {
	m, devs, sizes := batchingModel(t, batchable, &config.DynamicBatching{MaxBatchSize: 8, MaxQueueDelayMicroseconds: 20000})
	v, err := m.Acquire(context.Background(), "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Release()
	var wg sync.WaitGroup
	rows := []int{1, 2, 1, 3, 1} // 8 rows in all: one full batch
	for i, n := range rows {
		wg.Add(1)
		go func(i, n int) {
			defer wg.Done()
			first := float32(100 * i)
			resp, err := v.Infer(context.Background(), rowRequest(n, first))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Release()
			got := floatsOf(resp.Outputs[0].Data)
			if len(got) != 2*n || resp.Outputs[0].Shape[0] != int64(n) {
				t.Errorf("request %d: %d values, shape %v", i, len(got), resp.Outputs[0].Shape)
				return
			}
			for j, g := range got {
				if g != first+float32(j)+1 {
					t.Errorf("request %d value %d = %v, want %v (rows of another request?)", i, j, g, first+float32(j)+1)
					return
				}
			}
		}(i, n)
	}
	wg.Wait()
	if s := sizes(); len(s) != 1 || s[0] != 8 {
		t.Errorf("device saw batches %v, want one of 8", s)
	}
	arena := devs.Instance.Arena
	if arena.PluginZone().Allocations() != 0 || arena.HostZone().Allocations() != 0 {
		t.Errorf("buffers left: plugin zone %d, host zone %d", arena.PluginZone().Allocations(), arena.HostZone().Allocations())
	}
}

func TestBatcherDelayAndShapes(t *testing.T) {
	m, _, sizes := batchingModel(t, batchable, &config.DynamicBatching{MaxBatchSize: 4, MaxQueueDelayMicroseconds: 5000})
	v, _ := m.Acquire(context.Background(), "m", 0)
	defer v.Release()
	start := time.Now()
	resp, err := v.Infer(context.Background(), rowRequest(1, 0)) // alone: sent after the delay
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	if took := time.Since(start); took < 5*time.Millisecond {
		t.Errorf("a lone request was sent after %v, before the 5 ms delay", took)
	}
	resp, err = v.Infer(context.Background(), rowRequest(5, 0)) // more rows than a batch: unbatched
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	if s := sizes(); len(s) != 2 || s[0] != 1 || s[1] != 5 {
		t.Errorf("device saw %v, want [1 5]", s)
	}
}

func TestBatcherZeroDelaySendsWhenIdle(t *testing.T) {
	m, _, sizes := batchingModel(t, batchable, &config.DynamicBatching{MaxBatchSize: 16})
	v, _ := m.Acquire(context.Background(), "m", 0)
	defer v.Release()
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := v.Infer(context.Background(), rowRequest(1, 0))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Release()
		}()
	}
	wg.Wait()
	s := sizes()
	total := int64(0)
	for _, n := range s {
		total += n
	}
	if total != 12 || len(s) >= 12 {
		t.Errorf("batches %v: want 12 rows in fewer than 12 device calls", s)
	}
}

func TestBatchingNeedsDynamicFirstDimension(t *testing.T) {
	arena := devicetest.NewArena(t)
	devs := devicetest.Devices{Instance: devicetest.Serve(t, devicetest.AddOne(arena, nil), arena)} // dummy: [1,10]
	m := New(devs, quiet())
	cfg := model("m", repo(t, []string{"1"}), config.DefaultModel().VersionPolicy)
	cfg.DynamicBatching = &config.DynamicBatching{MaxBatchSize: 4}
	err := m.Apply(context.Background(), []config.Model{cfg})
	if err == nil || !strings.Contains(err.Error(), "dynamic batching needs a dynamic first dimension on every numeric input; input b is FP32 (1,10)") {
		t.Fatalf("Apply: %v", err)
	}
}
