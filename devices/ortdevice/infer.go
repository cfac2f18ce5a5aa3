package ortdevice

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// infer runs one request: inputs are wrapped in place in the host zone,
// outputs with a static shape, or tied to the inputs' dimensions
// (outsize.go), are preallocated in the plugin zone (or the client's
// memory) so ONNX Runtime writes them there directly; the others are copied
// in once.
func (m *model) infer(ctx context.Context, env *device.Env, req *device.InferRequest) (resp *device.InferResponse, err error) {
	arena := env.Arena
	var pin runtime.Pinner // a stateful model's state buffers, until the values are closed
	defer pin.Unpin()
	var values []*ort.Value
	var releases []func()
	defer func() {
		for _, v := range values {
			v.Close()
		}
		for _, r := range releases {
			r()
		}
	}()
	if err := m.checkEmpty(req.Inputs); err != nil {
		return nil, err
	}
	var seq *sequence
	var seqID uint64
	if m.seqs != nil {
		var finish func()
		if seq, seqID, finish, err = m.seqs.begin(req.SequenceID, req.SequenceControl); err != nil {
			return nil, err
		}
		defer finish()
	}
	states := 0
	if seq != nil {
		states = len(m.seqs.slots)
	}
	inNames := make([]string, len(req.Inputs), len(req.Inputs)+states)
	inputs := make([]*ort.Value, len(req.Inputs), len(req.Inputs)+states)
	for i, in := range req.Inputs {
		mem, release, err := env.Bytes(in)
		if err != nil {
			return nil, bytesError("input", in.Name, err)
		}
		releases = append(releases, release)
		v, err := inputValue(env, mem, in)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		inNames[i], inputs[i] = in.Name, v
	}
	if seq != nil {
		if inNames, inputs, values, err = m.seqs.stateInputs(seq, m.info, req, &pin, inNames, inputs, values); err != nil {
			return nil, err
		}
	}

	outNames := req.Outputs
	if len(outNames) == 0 {
		outNames = m.outNames
	}
	zone := arena.PluginZone()
	refs := make([]device.TensorRef, len(outNames))
	outputs := make([]*ort.Value, len(outNames), len(outNames)+states)
	prealloc := make([]bool, len(outNames), len(outNames)+states)
	var allocated []uint64 // plugin-zone buffers to free if the request fails
	defer func() {
		if err != nil {
			for _, off := range allocated {
				_ = zone.Free(off)
			}
		}
	}()
	placed := make([][]byte, len(outNames)) // client memory of placed outputs
	// tied[i]: output i is preallocated at a size its tie computed from the
	// inputs, which a model whose symbols do not hold proves wrong in the run.
	var tied []bool
	for i, name := range outNames {
		info, ok := m.outputs[name]
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "model has no output %q", name)
		}
		shape, size := info.Shape, staticSize(info)
		isTied := false
		if size < 0 {
			if shape, size, isTied = m.tiedShape(name, req.Inputs); !isTied {
				shape = info.Shape
			}
		}
		markTied := func() {
			if tied == nil {
				tied = make([]bool, len(outNames))
			}
			tied[i] = true
		}
		if p, ok := placement(req.Placements, name); ok {
			mem, release, err := env.Bytes(p)
			if err != nil {
				return nil, bytesError("output", name, err)
			}
			releases = append(releases, release)
			placed[i] = mem
			refs[i] = device.TensorRef{Name: name, DType: info.DType, Shape: shape, Offset: p.Offset, Length: p.Length, Region: p.Region}
			if size < 0 || (isTied && size > len(mem)) { // a tied size is checked after the run, against the real one
				refs[i].Shape = info.Shape
				continue
			}
			if size > len(mem) {
				return nil, status.Errorf(codes.InvalidArgument, "output %s needs %d bytes; its shared memory holds %d", name, size, len(mem))
			}
			v, err := ort.NewTensor(ort.ElementType(info.DType), shape, dataPtr(mem), size)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "output %s: %v", name, err)
			}
			values = append(values, v)
			outputs[i], prealloc[i] = v, true
			refs[i].Length = uint64(size)
			if isTied {
				markTied()
			}
			continue
		}
		if size < 0 {
			continue
		}
		off, err := zone.Alloc(uint64(size))
		if err != nil {
			if isTied { // the real size, known after the run, decides
				continue
			}
			return nil, status.Errorf(codes.ResourceExhausted, "output %s: %v", name, err)
		}
		allocated = append(allocated, off)
		refs[i] = device.TensorRef{Name: name, DType: info.DType, Shape: shape, Offset: off, Length: uint64(size)}
		mem, _ := arena.Bytes(off, uint64(size))
		v, err := ort.NewTensor(ort.ElementType(info.DType), shape, dataPtr(mem), size)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "output %s: %v", name, err)
		}
		values = append(values, v)
		outputs[i], prealloc[i] = v, true
		if isTied {
			markTied()
		}
	}

	runNames := outNames
	if seq != nil { // the state outputs too, into the sequence's own memory
		if outputs, prealloc, values, err = m.seqs.stateOutputs(seq, &pin, outputs, prealloc, values); err != nil {
			return nil, err
		}
		runNames = m.runNames(outNames, req.Outputs)
	}
	sess := <-m.sessions
	engineStart := time.Now().UnixNano()
	err = sess.RunWithOptions(ctx, inNames, inputs, runNames, outputs)
	if tied != nil && isShapeMismatch(err) {
		// The model's symbols do not hold: run again with ONNX Runtime
		// allocating those outputs, and stop tying this model's outputs.
		m.untie(env, err)
		allocated = untie(zone, tied, placed, outputs, prealloc, refs, allocated)
		err = sess.RunWithOptions(ctx, inNames, inputs, runNames, outputs)
	}
	engineEnd := time.Now().UnixNano()
	m.sessions <- sess
	for i, v := range outputs {
		if !prealloc[i] && v != nil {
			values = append(values, v)
		}
	}
	// ONNX Runtime read and wrote client regions in place: a region whose
	// object was truncated meanwhile gave it zero pages (faultguard), so
	// the request fails, whatever the run said.
	if ierr := intact(env, req); ierr != nil {
		return nil, ierr
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if seq != nil {
		if err := m.seqs.keep(seq, outputs[len(outNames):], prealloc[len(outNames):]); err != nil {
			return nil, err
		}
		outputs, prealloc = outputs[:len(outNames)], prealloc[:len(outNames)]
	}
	for i, v := range outputs {
		if prealloc[i] {
			continue
		}
		if onCopied != nil {
			onCopied(outNames[i])
		}
		if placed[i] != nil {
			p, _ := placement(req.Placements, outNames[i])
			var ref device.TensorRef
			if ferr := env.GuardFaults(p, func() { ref, err = copyInto(placed[i], refs[i], v) }); ferr != nil {
				return nil, device.RegionError("output", outNames[i], ferr)
			}
			if err != nil {
				return nil, err
			}
			if ierr := env.Intact(p); ierr != nil {
				return nil, device.RegionError("output", outNames[i], ierr)
			}
			refs[i] = ref
			continue
		}
		ref, err := copyOut(zone, arena, outNames[i], v)
		if err != nil {
			return nil, err
		}
		allocated = append(allocated, ref.Offset)
		refs[i] = ref
	}
	return &device.InferResponse{Outputs: refs, SequenceID: seqID, EngineStart: engineStart, EngineEnd: engineEnd}, nil
}

// onCopied, when set (tests), is called for each output copied after the
// run instead of written in place by the engine.
var onCopied func(output string)

// bytesError is the status of a tensor whose memory cannot be used.
func bytesError(what, name string, err error) error {
	if errors.Is(err, shm.ErrRegionChanged) {
		return device.RegionError(what, name, err)
	}
	return status.Errorf(codes.InvalidArgument, "%s %s: %v", what, name, err)
}

// intact fails the request when a client region of an input or output was
// truncated while the engine used it.
func intact(env *device.Env, req *device.InferRequest) error {
	for _, in := range req.Inputs {
		if err := env.Intact(in); err != nil {
			return device.RegionError("input", in.Name, err)
		}
	}
	for _, p := range req.Placements {
		if err := env.Intact(p); err != nil {
			return device.RegionError("output", p.Name, err)
		}
	}
	return nil
}

// inputValue wraps an input's bytes (arena or client region) as an ORT
// value (no copy) or, for strings, builds an ORT string tensor from the
// length-prefixed elements.
func inputValue(env *device.Env, mem []byte, in device.TensorRef) (*ort.Value, error) {
	if in.DType == device.String {
		var elems [][]byte
		var err error
		if ferr := env.GuardFaults(in, func() { elems, err = device.SplitStrings(mem) }); ferr != nil {
			return nil, device.RegionError("input", in.Name, ferr)
		}
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "input %s: %v", in.Name, err)
		}
		v, err := ort.NewStringTensor(in.Shape, elems)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "input %s: %v", in.Name, err)
		}
		return v, nil
	}
	v, err := ort.NewTensor(ort.ElementType(in.DType), in.Shape, dataPtr(mem), len(mem))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "input %s: %v", in.Name, err)
	}
	return v, nil
}

// copyOut places an ORT-allocated output into the plugin zone.
func copyOut(zone *shm.Zone, arena *shm.Arena, name string, v *ort.Value) (device.TensorRef, error) {
	ref := device.TensorRef{Name: name, DType: device.DataType(v.Type()), Shape: v.Shape()}
	var src []byte
	var strs [][]byte
	if ref.DType == device.String {
		s, err := v.Strings()
		if err != nil {
			return ref, status.Errorf(codes.Internal, "output %s: %v", name, err)
		}
		strs = s
		ref.Length = uint64(device.StringsSize(s))
	} else {
		src = v.Bytes()
		ref.Length = uint64(len(src))
	}
	off, err := zone.Alloc(ref.Length)
	if err != nil {
		return ref, status.Errorf(codes.ResourceExhausted, "output %s: %v", name, err)
	}
	ref.Offset = off
	dst, _ := arena.Bytes(off, ref.Length)
	if strs == nil {
		copy(dst, src)
		return ref, nil
	}
	device.PutStrings(dst, strs)
	return ref, nil
}

// placement finds the host-given memory of an output.
func placement(ps []device.TensorRef, name string) (device.TensorRef, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return device.TensorRef{}, false
}

// copyInto places an ORT-allocated output into host-given memory.
func copyInto(dst []byte, ref device.TensorRef, v *ort.Value) (device.TensorRef, error) {
	ref.DType, ref.Shape = device.DataType(v.Type()), v.Shape()
	var n int
	if ref.DType == device.String {
		s, err := v.Strings()
		if err != nil {
			return ref, status.Errorf(codes.Internal, "output %s: %v", ref.Name, err)
		}
		n = device.StringsSize(s)
		if n > len(dst) {
			return ref, status.Errorf(codes.InvalidArgument, "output %s needs %d bytes; its shared memory holds %d", ref.Name, n, len(dst))
		}
		device.PutStrings(dst, s)
	} else {
		src := v.Bytes()
		n = len(src)
		if n > len(dst) {
			return ref, status.Errorf(codes.InvalidArgument, "output %s needs %d bytes; its shared memory holds %d", ref.Name, n, len(dst))
		}
		copy(dst, src)
	}
	ref.Length = uint64(n)
	return ref, nil
}

// staticSize is the byte size of a numeric output whose shape is fully
// known, or -1.
func staticSize(t device.TensorInfo) int {
	if t.DType == device.String {
		return -1
	}
	return byteSize(t.DType, t.Shape)
}

// dataPtr is the address of b's first byte; arena slices are never nil, so
// even an empty one yields a valid address.
func dataPtr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// checkEmpty refuses a zero dimension for a model with an operator that
// kills the process on empty tensors (the host refuses such requests
// first; this guards the plugin against any other caller).
func (m *model) checkEmpty(inputs []device.TensorRef) error {
	if len(m.info.EmptyUnsafe) == 0 {
		return nil
	}
	for _, in := range inputs {
		for _, d := range in.Shape {
			if d == 0 {
				return status.Errorf(codes.InvalidArgument, "input %s has a zero dimension %v: the model's %s kernels abort ONNX Runtime on empty tensors",
					in.Name, in.Shape, strings.Join(m.info.EmptyUnsafe, ", "))
			}
		}
	}
	return nil
}
