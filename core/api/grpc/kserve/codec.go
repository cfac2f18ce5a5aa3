package kserve

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/clientshm"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// hasContents reports whether a tensor carries data in InferTensorContents.
func hasContents(c *kpb.InferTensorContents) bool {
	return c != nil && (len(c.BoolContents) > 0 || len(c.IntContents) > 0 || len(c.Int64Contents) > 0 ||
		len(c.UintContents) > 0 || len(c.Uint64Contents) > 0 || len(c.Fp32Contents) > 0 ||
		len(c.Fp64Contents) > 0 || len(c.BytesContents) > 0)
}

// DecodeInputs turns the inputs of a ModelInferRequest into request inputs
// without copying tensor bytes. raw holds raw_input_contents (may be empty),
// one buffer per input that is not in shared memory, in order; parts, when
// not nil, holds the same buffers as fragments instead (see rawcodec).
// Inputs that name a client shared-memory region are resolved against shm
// (nil: the extension is off); the regions returned must be released after
// the response. budget bounds the string elements split out of raw BYTES
// buffers (tensor.StringOverhead each; strings past the declared shape are
// counted in Excess, not kept); nil bounds nothing.
func DecodeInputs(inputs []*kpb.ModelInferRequest_InferInputTensor, raw [][]byte, parts [][][]byte, shm *clientshm.Registry, budget *tensor.Budget) ([]tensor.Input, Regions, error) {
	nraw := len(raw)
	if parts != nil {
		nraw = len(parts)
	}
	inline := 0
	for _, in := range inputs {
		if !HasShm(in.GetParameters()) {
			inline++
		}
	}
	if nraw > 0 {
		for _, in := range inputs {
			if hasContents(in.GetContents()) {
				return nil, nil, apierr.Newf(apierr.InvalidMessageStructure,
					"Passing buffers both in InferInputTensor contents and in raw_input_contents is not allowed. Detected buffer in InferInputTensor contents for input: %s", in.GetName())
			}
		}
		if nraw != inline {
			return nil, nil, apierr.Newf(apierr.InvalidMessageStructure,
				"raw_input_contents must hold one buffer per input - Expected: %d; Actual: %d", inline, nraw)
		}
	}
	out := make([]tensor.Input, len(inputs))
	var held Regions
	next := 0
	for i, in := range inputs {
		t := tensor.Input{Name: in.GetName(), DTypeName: in.GetDatatype(), Shape: in.GetShape()}
		t.DType, _ = tensor.FromKServe(in.GetDatatype())
		switch {
		case HasShm(in.GetParameters()):
			if hasContents(in.GetContents()) {
				held.Release()
				return nil, nil, apierr.Newf(apierr.SharedMemoryInvalid, "input %s has both data and a shared memory region", in.GetName())
			}
			ref, reg, err := shmRef(shm, "input "+in.GetName(), in.GetParameters())
			if err != nil {
				held.Release()
				return nil, nil, err
			}
			held = append(held, reg)
			t.Shm = &ref
		case len(parts) > 0:
			if err := fromParts(&t, parts[next], budget); err != nil {
				held.Release()
				return nil, nil, err
			}
			next++
		case nraw > 0:
			if err := fromRaw(&t, raw[next], budget); err != nil {
				held.Release()
				return nil, nil, err
			}
			next++
		default:
			fromContents(&t, in.GetContents())
		}
		out[i] = t
	}
	return out, held, nil
}

// fromParts takes a raw buffer given as fragments (still in the buffers
// the transport received them in).
func fromParts(t *tensor.Input, frags [][]byte, budget *tensor.Budget) error {
	if t.DType == device.String {
		return stringsFrom(t, frags, budget)
	}
	t.RawParts, t.HasRaw = frags, true
	if t.RawParts == nil {
		t.RawParts = [][]byte{}
	}
	return nil
}

// fromRaw takes a raw buffer.
func fromRaw(t *tensor.Input, b []byte, budget *tensor.Budget) error {
	if t.DType != device.String {
		t.Raw, t.HasRaw = b, true
		return nil
	}
	return stringsFrom(t, [][]byte{b}, budget)
}

// stringsFrom splits a raw BYTES buffer, given as fragments, into its
// (uint32 length, bytes) elements: views of the fragments (an element
// that straddles two is copied). The elements are counted first; those
// past the declared shape are counted in Excess, not kept; the views of
// the kept ones are charged to budget. The copies are not: they take no
// more than the buffer itself, which the transport's message limit bounds,
// and where the transport's buffers happen to split a request must not
// decide whether it passes (a request decoded whole, as a small one is,
// holds views alone).
func stringsFrom(t *tensor.Input, frags [][]byte, budget *tensor.Budget) error {
	size := 0
	for _, f := range frags {
		size += len(f)
	}
	r := fragReader{frags: frags}
	count := int64(0)
	for r.left(size) > 0 {
		n, err := r.length(t.Name, size)
		if err != nil {
			return err
		}
		r.skip(int(n))
		count++
	}
	keep := t.Shape.Elements()
	if keep < 0 || keep > count {
		keep = count // a bad shape fails validation anyway
	}
	t.Excess = uint64(count - keep)
	if keep == 0 {
		return nil
	}
	if !budget.Take(keep * tensor.StringOverhead) {
		return &tensor.MemoryError{Input: t.Name, Limit: budget.Limit(), What: fmt.Sprintf("its %d string elements", keep)}
	}
	t.Strings = make([][]byte, 0, keep)
	r = fragReader{frags: frags}
	for int64(len(t.Strings)) < keep {
		n, _ := r.length(t.Name, size) // checked above
		t.Strings = append(t.Strings, r.take(int(n)))
	}
	return nil
}

// fragReader reads across the fragments of a raw buffer.
type fragReader struct {
	frags [][]byte
	i     int // current fragment
	off   int // offset in it
	done  int // bytes read
}

func (r *fragReader) left(size int) int { return size - r.done }

// length reads an element's 4-byte length and checks that its bytes
// follow (OVMS's messages).
func (r *fragReader) length(name string, size int) (uint32, error) {
	if r.left(size) < 4 {
		return 0, apierr.Newf(apierr.InvalidContentSize, "Processed bytes: %d do not equal to buffer size: %d; input name: %s", r.done, size, name)
	}
	var b [4]byte
	for k := range b {
		b[k] = r.byte()
	}
	n := binary.LittleEndian.Uint32(b[:])
	if uint64(n) > uint64(r.left(size)) {
		return 0, apierr.Newf(apierr.InvalidContentSize, "Batch length metadata exceeded buffer size, buffer size: %d, batch length: %d; input name: %s", size, n, name)
	}
	return n, nil
}

func (r *fragReader) byte() byte {
	for r.off == len(r.frags[r.i]) {
		r.i, r.off = r.i+1, 0
	}
	c := r.frags[r.i][r.off]
	r.off++
	r.done++
	return c
}

// skip passes n bytes (that are there).
func (r *fragReader) skip(n int) {
	r.done += n
	for n > 0 {
		if r.off == len(r.frags[r.i]) {
			r.i, r.off = r.i+1, 0
			continue
		}
		k := min(n, len(r.frags[r.i])-r.off)
		r.off += k
		n -= k
	}
}

// take returns the next n bytes (that are there): a view when they lie in
// one fragment, else a copy.
func (r *fragReader) take(n int) []byte {
	for n > 0 && r.off == len(r.frags[r.i]) {
		r.i, r.off = r.i+1, 0
	}
	if n == 0 || r.off+n <= len(r.frags[r.i]) {
		var s []byte
		if n == 0 {
			s = []byte{}
		} else {
			s = r.frags[r.i][r.off : r.off+n : r.off+n]
		}
		r.skip(n)
		return s
	}
	s := make([]byte, 0, n)
	for len(s) < n {
		if r.off == len(r.frags[r.i]) {
			r.i, r.off = r.i+1, 0
			continue
		}
		k := min(n-len(s), len(r.frags[r.i])-r.off)
		s = append(s, r.frags[r.i][r.off:r.off+k]...)
		r.off += k
		r.done += k
	}
	return s
}

func fromContents(t *tensor.Input, c *kpb.InferTensorContents) {
	switch t.DType {
	case device.Bool:
		t.Values = tensor.Bools(c.GetBoolContents())
	case device.Int8, device.Int16, device.Int32:
		t.Values = tensor.Numbers[int32](c.GetIntContents())
	case device.Int64:
		t.Values = tensor.Numbers[int64](c.GetInt64Contents())
	case device.Uint8, device.Uint16, device.Uint32:
		t.Values = tensor.Numbers[uint32](c.GetUintContents())
	case device.Uint64:
		t.Values = tensor.Numbers[uint64](c.GetUint64Contents())
	case device.Float32:
		t.Values = tensor.Numbers[float32](c.GetFp32Contents())
	case device.Float64:
		t.Values = tensor.Numbers[float64](c.GetFp64Contents())
	case device.String:
		t.Strings = c.GetBytesContents()
	default: // FP16 and BF16 travel only in raw_input_contents
		t.Values = tensor.Numbers[float32](nil)
	}
}

// SequenceParams reads Triton's sequence request parameters (sequence_id as
// an integer or a decimal string, sequence_start, sequence_end), which ovms
// accepts for stateful models besides OVMS's special inputs; nil when none
// is given.
func SequenceParams(params map[string]*kpb.InferParameter) (*tensor.Sequence, error) {
	id, hasID := params["sequence_id"]
	start, hasStart := params["sequence_start"]
	end, hasEnd := params["sequence_end"]
	if !hasID && !hasStart && !hasEnd {
		return nil, nil
	}
	seq := &tensor.Sequence{}
	if hasID {
		switch c := id.GetParameterChoice().(type) {
		case *kpb.InferParameter_Int64Param:
			if c.Int64Param < 0 {
				return nil, apierr.New(apierr.SequenceIDBadType)
			}
			seq.ID = uint64(c.Int64Param)
		case *kpb.InferParameter_Uint64Param:
			seq.ID = c.Uint64Param
		case *kpb.InferParameter_StringParam:
			n, err := strconv.ParseUint(c.StringParam, 10, 64)
			if err != nil {
				return nil, apierr.New(apierr.SequenceIDBadType)
			}
			seq.ID = n
		default:
			return nil, apierr.New(apierr.SequenceIDBadType)
		}
	}
	for _, p := range []struct {
		v   *kpb.InferParameter
		has bool
		bit uint32
	}{{start, hasStart, device.SequenceStart}, {end, hasEnd, device.SequenceEnd}} {
		if !p.has {
			continue
		}
		b, ok := p.v.GetParameterChoice().(*kpb.InferParameter_BoolParam)
		if !ok {
			return nil, apierr.New(apierr.SequenceControlInputBadType)
		}
		if b.BoolParam {
			seq.Control |= p.bit
		}
	}
	return seq, nil
}
