package ortdevice

import (
	"slices"
	"strings"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// dimRef is dimension dim of input input.
type dimRef struct {
	input string
	dim   int
}

// tieDim is where one output dimension's size comes from: a fixed size, or
// (srcs != nil) the input dimensions of the same symbol, which must all
// have the same size in a request for the output to be tied.
type tieDim struct {
	size int64
	srcs []dimRef
}

// outputTie sizes a numeric output with dynamic dimensions from a request's
// input shapes, so that the output can be preallocated where the answer
// goes (the arena, or client memory) and ONNX Runtime writes it there,
// instead of into memory of its own that is then copied over.
type outputTie []tieDim

// outputTies finds the outputs whose every dynamic dimension carries the
// symbol of an input's dynamic dimension (the ONNX meaning of a shared
// dim_param: the same size), as the session reports them: declared so in the
// file, or inferred by ONNX Runtime where the file leaves the output's
// dimensions unknown (as onnxmodel.ApplyReshape does). Outputs with a
// dimension of unknown origin, and string outputs, are left out: they keep
// ONNX Runtime's allocation and one copy. Nil when there are none.
func outputTies(ins, outs []ort.TensorInfo) map[string]outputTie {
	bySymbol := map[string][]dimRef{}
	for _, in := range ins {
		for j, s := range in.Symbols {
			if s != "" && in.Shape[j] < 0 {
				bySymbol[s] = append(bySymbol[s], dimRef{in.Name, j})
			}
		}
	}
	var ties map[string]outputTie
outputs:
	for _, out := range outs {
		if out.Type == ort.String || !dynamic(out.Shape) {
			continue
		}
		tie := make(outputTie, len(out.Shape))
		for j, d := range out.Shape {
			if d >= 0 {
				tie[j] = tieDim{size: d}
				continue
			}
			var s string
			if j < len(out.Symbols) {
				s = out.Symbols[j]
			}
			srcs, ok := bySymbol[s]
			if !ok {
				continue outputs
			}
			tie[j] = tieDim{srcs: srcs}
		}
		if ties == nil {
			ties = map[string]outputTie{}
		}
		ties[out.Name] = tie
	}
	return ties
}

// dynamic reports whether a shape has a dimension of unknown size.
func dynamic(shape []int64) bool {
	for _, d := range shape {
		if d < 0 {
			return true
		}
	}
	return false
}

// shape is the output's shape for a request with these inputs; false when
// no input it depends on is in the request with a dimension there (a state
// input of a stateful model is not: one of the request's own must be), or
// when the request's inputs give one symbol different sizes (the run then
// reports it, or computes an output no tie can size).
func (t outputTie) shape(inputs []device.TensorRef) ([]int64, bool) {
	shape := make([]int64, len(t))
	for j, d := range t {
		if d.srcs == nil {
			shape[j] = d.size
			continue
		}
		found := false
		for _, src := range d.srcs {
			for _, in := range inputs {
				if in.Name != src.input || src.dim >= len(in.Shape) {
					continue
				}
				if found && in.Shape[src.dim] != shape[j] {
					return nil, false
				}
				shape[j], found = in.Shape[src.dim], true
			}
		}
		if !found {
			return nil, false
		}
	}
	return shape, true
}

// byteSize is the bytes of a numeric tensor of this shape, or -1 when the
// shape has a negative dimension or the size overflows an int.
func byteSize(dt device.DataType, shape []int64) int {
	n := int64(dt.Size())
	for _, d := range shape {
		if d < 0 || (d > 0 && n > (1<<62)/d) {
			return -1
		}
		n *= d
	}
	return int(n)
}

// isShapeMismatch reports whether a run failed because an output's real
// shape differed from the preallocated one: a model whose declared symbols
// do not hold. ONNX Runtime 1.30 says so from the kernel that writes the
// output ("... has shape {2,4} but the computed output shape for this run
// is {4,4}"), and from its execution frame ("OrtValue shape verification
// failed") where no kernel does (an output that is an input or a
// constant).
func isShapeMismatch(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "computed output shape for this run") || strings.Contains(msg, "shape verification failed")
}

// tiedShape is the shape and byte size of output name for a request with
// these inputs, when the output has a tie and the model's ties still hold.
func (m *model) tiedShape(name string, inputs []device.TensorRef) ([]int64, int, bool) {
	tie, ok := m.ties[name]
	if !ok || m.untied.Load() {
		return nil, -1, false
	}
	shape, ok := tie.shape(inputs)
	if !ok {
		return nil, -1, false
	}
	size := byteSize(m.outputs[name].DType, shape)
	if size < 0 {
		return nil, -1, false
	}
	return shape, size, true
}

// untie stops preallocating this model's dynamic outputs after a run proved
// a tie wrong (logged once: the model's outputs are then copied once more).
func (m *model) untie(env *device.Env, err error) {
	if m.untied.Swap(true) || env.Logger == nil {
		return
	}
	env.Logger.WithError(err).Warn("an output's size differs from what the model's dimension names imply: its dynamic outputs are no longer preallocated")
}

// untie undoes the preallocation of the tied outputs of a request before
// it runs again: ONNX Runtime allocates them, and their arena buffers
// (those not in client memory) are freed. It returns allocated without them.
func untie(zone *shm.Zone, tied []bool, placed [][]byte, outputs []*ort.Value, prealloc []bool, refs []device.TensorRef, allocated []uint64) []uint64 {
	for i, t := range tied {
		if !t {
			continue
		}
		outputs[i], prealloc[i] = nil, false
		if placed[i] != nil {
			continue
		}
		off := refs[i].Offset
		_ = zone.Free(off)
		allocated = slices.DeleteFunc(allocated, func(a uint64) bool { return a == off })
	}
	return allocated
}
