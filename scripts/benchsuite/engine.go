package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"

	"github.com/ovmsgo/ovms/cli/bench"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// engine is the raw engine: our ONNX Runtime binding called in-process on
// a bench model, with the settings ovms's CPU plugin uses by default (one
// stream, i.e. one session, with one intra-op thread per core; see
// devices/ortdevice/model.go) and its output handling (static outputs
// preallocated, so ONNX Runtime writes into them).
type engine struct {
	sess     *ort.Session
	inNames  []string
	inputs   []*ort.Value
	outNames []string
	outs     []ort.TensorInfo
}

// engineThreads is the plugin's default intra-op thread count.
func engineThreads() int { return max(1, runtime.NumCPU()) }

// newEngine loads <modelsDir>/<model>/1/model.onnx with random FP32 inputs
// (dynamic dims 1, as the bench client sends them).
// config adds session config entries (nil for none).
func newEngine(modelsDir, model string, config map[string]string) (*engine, error) {
	data, err := os.ReadFile(filepath.Join(modelsDir, model, "1", "model.onnx"))
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return newEngineFrom(model, data, ort.SessionOptions{IntraOpThreads: engineThreads(), ConfigEntries: config}, 1)
}

// newEngineFrom makes a session of the ONNX model data (named model in
// errors) with opts and random FP32 inputs, whose first dimension is batch
// where it is dynamic (other dynamic dims 1).
func newEngineFrom(model string, data []byte, opts ort.SessionOptions, batch int64) (e *engine, err error) {
	if err := ort.Init(""); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	sess, err := ort.NewSession(data, opts)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", model, err)
	}
	e = &engine{sess: sess, outs: sess.Outputs()}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range sess.Inputs() {
		if in.Type != ort.Float32 {
			return e, fmt.Errorf("engine: input %s is %v; the suite feeds FP32 only", in.Name, in.Type)
		}
		shape := append([]int64(nil), in.Shape...)
		n := 1
		for i, d := range shape {
			shape[i] = max(d, 1)
			if i == 0 && d < 0 {
				shape[i] = batch
			}
			n *= int(shape[i])
		}
		buf := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(rng.Float32()))
		}
		v, err := ort.NewTensorCopy(in.Type, shape, buf)
		if err != nil {
			return e, fmt.Errorf("engine: input %s: %w", in.Name, err)
		}
		e.inNames, e.inputs = append(e.inNames, in.Name), append(e.inputs, v)
	}
	for _, o := range e.outs {
		e.outNames = append(e.outNames, o.Name)
	}
	return e, nil
}

// engineDoer runs the session once per Do with its own output buffers.
type engineDoer struct {
	e    *engine
	outs []*ort.Value // preallocated outputs; nil entries are allocated by ORT per run
	tmp  []*ort.Value
}

// doer is a bench.DoerFactory: each worker gets its own outputs.
func (e *engine) doer(int) (bench.Doer, error) {
	d := &engineDoer{e: e, outs: make([]*ort.Value, len(e.outs)), tmp: make([]*ort.Value, len(e.outs))}
	for i, o := range e.outs {
		n, static := 1, true
		for _, dim := range o.Shape {
			static = static && dim >= 0
			n *= int(dim)
		}
		if !static || o.Type != ort.Float32 {
			continue
		}
		v, err := ort.NewTensorCopy(o.Type, o.Shape, make([]byte, 4*n))
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("engine: output %s: %w", o.Name, err)
		}
		d.outs[i] = v
	}
	return d, nil
}

// Do runs one inference.
func (d *engineDoer) Do(context.Context) error {
	copy(d.tmp, d.outs)
	err := d.e.sess.Run(d.e.inNames, d.e.inputs, d.e.outNames, d.tmp)
	for i, v := range d.tmp {
		if d.outs[i] == nil && v != nil {
			v.Close()
		}
	}
	return err
}

// Close frees the worker's outputs.
func (d *engineDoer) Close() error {
	for _, v := range d.outs {
		if v != nil {
			v.Close()
		}
	}
	return nil
}

// close frees the inputs and the session.
func (e *engine) close() {
	for _, v := range e.inputs {
		v.Close()
	}
	e.sess.Close()
}
