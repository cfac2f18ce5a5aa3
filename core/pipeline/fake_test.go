package pipeline

import (
	"context"
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// fakeModel is an in-process stand-in for a model version (the model
// manager's contract: metadata, Infer, Release); fn computes the outputs
// from the inputs' float32 values.
type fakeModel struct {
	info     *device.ModelInfo
	dynamic  bool
	stateful bool
	fn       func(ctx context.Context, in map[string]tensor.Input) (map[string]tensor.Output, error)
}

type fakeModels struct {
	m        map[string]*fakeModel
	loading  map[string]bool // models being loaded again (NOT_LOADED_YET)
	pinned   atomic.Int64    // pins not released
	leased   atomic.Int64    // responses not released
	released atomic.Int64
}

func (f *fakeModels) Describe(name string, _ int64) (*Model, error) {
	if f.loading[name] {
		return nil, apierr.New(apierr.ModelVersionNotLoadedYet)
	}
	m, ok := f.m[name]
	if !ok {
		return nil, apierr.New(apierr.ModelNameMissing)
	}
	return &Model{Info: m.info, Dynamic: m.dynamic, Stateful: m.stateful, Key: m}, nil
}

func (f *fakeModels) Acquire(_ context.Context, name string, _ int64) (Runner, error) {
	m, ok := f.m[name]
	if !ok {
		return nil, apierr.New(apierr.ModelNameMissing)
	}
	f.pinned.Add(1)
	return &fakeRunner{f: f, m: m}, nil
}

type fakeRunner struct {
	f    *fakeModels
	m    *fakeModel
	once sync.Once
}

func (r *fakeRunner) Release() { r.once.Do(func() { r.f.pinned.Add(-1) }) }

func (r *fakeRunner) Infer(ctx context.Context, req *tensor.Request) (*tensor.Response, error) {
	in := map[string]tensor.Input{}
	for _, x := range req.Inputs {
		in[x.Name] = x
	}
	for _, t := range r.m.info.Inputs {
		x, ok := in[t.Name]
		if !ok {
			return nil, apierr.Newf(apierr.InvalidMissingInput, "%s", t.Name)
		}
		if !shapesMatch(t.Shape, x.Shape) {
			return nil, apierr.Newf(apierr.InvalidShape, "%s %v", t.Name, x.Shape)
		}
	}
	outs, err := r.m.fn(ctx, in)
	if err != nil {
		return nil, err
	}
	var list []tensor.Output
	for name, o := range outs {
		o.Name = name
		o.Length = uint64(len(o.Data))
		list = append(list, o)
	}
	r.f.leased.Add(1)
	var once sync.Once
	return tensor.NewResponse("", 0, list, func() {
		once.Do(func() { r.f.leased.Add(-1); r.f.released.Add(1) })
	}), nil
}

func f32(t *testing.T, in tensor.Input) []float32 {
	t.Helper()
	var b []byte
	switch {
	case in.HasRaw:
		b = in.Raw
	default:
		b = make([]byte, in.ByteSize(device.Float32))
		if err := in.WriteTo(b, device.Float32); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func ti(name string, shape ...int64) device.TensorInfo {
	return device.TensorInfo{Name: name, DType: device.Float32, Shape: shape}
}

// elementwise is a model out = f(in) with the given shapes.
func elementwise(t *testing.T, in, out device.TensorInfo, f func([]float32) []float32) *fakeModel {
	return &fakeModel{info: &device.ModelInfo{Inputs: []device.TensorInfo{in}, Outputs: []device.TensorInfo{out}},
		fn: func(_ context.Context, m map[string]tensor.Input) (map[string]tensor.Output, error) {
			x := m[in.Name]
			y := f(f32(t, x))
			shape := append([]int64(nil), x.Shape...)
			if len(out.Shape) != len(shape) || len(y) != len(f32(t, x)) {
				shape = append([]int64(nil), out.Shape...)
				for i := range shape {
					if shape[i] < 0 {
						shape[i] = int64(len(y))
					}
				}
			}
			return map[string]tensor.Output{out.Name: {DType: device.Float32, Shape: shape, Data: f32bytes(y)}}, nil
		}}
}

func input(name string, shape []int64, v ...float32) tensor.Input {
	return tensor.Input{Name: name, DType: device.Float32, Shape: shape, Raw: f32bytes(v), HasRaw: true}
}
