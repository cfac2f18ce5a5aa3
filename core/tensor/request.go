package tensor

import (
	"context"
	"fmt"
	"sort"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// API says which protocol a request came in by; some OVMS messages differ.
type API int

// The request protocols.
const (
	TFS API = iota
	KServe
)

// Input is one request input as an API adapter decoded it. Its data is in
// exactly one of Raw, Values or Strings; the adapters never copy tensor
// bytes: Raw and Strings alias the request message.
type Input struct {
	// Name is the input name.
	Name string
	// DType is the element type the client declared.
	DType DataType
	// DTypeName is the client's spelling of DType, for messages.
	DTypeName string
	// Shape is the shape the client declared.
	Shape Shape
	// Raw holds little-endian row-major bytes when HasRaw is set.
	Raw []byte
	// RawParts, when set, holds those bytes as fragments instead (still in
	// the buffers the transport received them in).
	RawParts [][]byte
	// HasRaw marks Raw (or RawParts) as the data source (it may be empty).
	HasRaw bool
	// Values holds typed values when Raw is not used.
	Values Values
	// Strings holds the elements of a string input.
	Strings [][]byte
	// Shm locates the data in a client shared-memory region instead.
	Shm *ShmRef
	// Excess counts values (or strings) the adapter read past what the
	// declared shape allows and did not keep: the input then fails
	// validation, and its messages count them too.
	Excess uint64
	// Arena, when set, says that Raw already lies in a device plugin's
	// arena (a pipeline node's output passed to the next node): a model
	// version served by that same plugin instance reads it there instead
	// of copying it into a new input buffer.
	Arena *ArenaRef
}

// ArenaRef locates tensor bytes in a device plugin's arena.
type ArenaRef struct {
	// Owner is the plugin instance whose arena holds the bytes (compared
	// by identity).
	Owner any
	// Offset is where the bytes start in that arena.
	Offset uint64
}

// StringCount is the number of strings the client sent (kept or not).
func (in *Input) StringCount() uint64 { return uint64(len(in.Strings)) + in.Excess }

// ValueCount is the number of typed values the client sent (kept or not).
func (in *Input) ValueCount() uint64 {
	n := in.Excess
	if in.Values != nil {
		n += uint64(in.Values.Len())
	}
	return n
}

// ShmRef locates tensor bytes in a client shared-memory region.
type ShmRef struct {
	// Region is the registered region.
	Region Shared
	// Offset and Size delimit the tensor in the region.
	Offset, Size uint64
}

// Shared is a client shared-memory region a device plugin can map.
type Shared interface {
	// MapOn maps the region in the plugin behind c (once) and returns the
	// id tensors name it by.
	MapOn(ctx context.Context, c *host.Client) (uint32, error)
}

// Request is one inference request as the model manager sees it.
type Request struct {
	// API is the protocol the request came in by.
	API API
	// Inputs in the order the client sent them.
	Inputs []Input
	// Outputs names the outputs to return; empty means all.
	Outputs []string
	// Placements asks for outputs to be written into client shared memory.
	Placements map[string]ShmRef
	// Layouts are the layouts of the model's inputs as requests see them
	// (e.g. "NHWC"; configured, else the model's own), by input name; set
	// by the model version.
	Layouts map[string]string
	// NoEmpty refuses inputs with a zero dimension (the model has an
	// operator whose engine kernel kills the plugin on empty tensors); set
	// by the model version.
	NoEmpty bool
	// Sequence addresses a sequence of a stateful model: KServe adapters
	// set it from Triton's request parameters (sequence_id,
	// sequence_start, sequence_end); a stateful version sets it from the
	// special inputs, which win. Nil: none given.
	Sequence *Sequence
}

// Sequence is a request's sequence of a stateful model.
type Sequence struct {
	// ID is the sequence id; 0 with a start asks the server for one.
	ID uint64
	// Control holds device.SequenceStart and device.SequenceEnd bits, or
	// an invalid OVMS control value (checked by the model version).
	Control uint32
}

// ByteSize is the arena size the validated input needs as the model's dt.
func (in *Input) ByteSize(dt DataType) uint64 {
	if dt == device.String {
		return uint64(device.StringsSize(in.Strings))
	}
	if in.HasRaw {
		return uint64(in.RawLen())
	}
	if in.Values != nil {
		return uint64(in.Values.Len()) * uint64(dt.Size())
	}
	return 0
}

// RawLen is the number of raw bytes, contiguous or in fragments.
func (in *Input) RawLen() int {
	if in.RawParts == nil {
		return len(in.Raw)
	}
	n := 0
	for _, p := range in.RawParts {
		n += len(p)
	}
	return n
}

// WriteTo places the validated input's data into dst (the arena) as dt;
// dst holds exactly ByteSize(dt) bytes.
func (in *Input) WriteTo(dst []byte, dt DataType) error {
	switch {
	case in.Excess > 0:
		return fmt.Errorf("input %s holds %d values that were not kept", in.Name, in.Excess)
	case dt == device.String:
		device.PutStrings(dst, in.Strings)
		return nil
	case in.HasRaw && in.RawParts != nil:
		o := 0
		for _, p := range in.RawParts {
			o += copy(dst[o:], p)
		}
		return nil
	case in.HasRaw:
		copy(dst, in.Raw)
		return nil
	case in.Values != nil:
		return in.Values.Put(dst, dt)
	}
	return nil
}

// Place writes the validated input into a new buffer of arena's host zone
// (the request's one copy of its bytes) and returns its descriptor, named
// name for the plugin, and the buffer's offset, which the caller frees
// once the plugin is done with it.
func (in *Input) Place(arena *shm.Arena, name string) (device.TensorRef, uint64, error) {
	zone := arena.HostZone()
	n := in.ByteSize(in.DType)
	off, err := zone.Alloc(n)
	if err != nil {
		return device.TensorRef{}, 0, apierr.Wrap(apierr.ArenaFull, err, "input %s needs %d bytes; the arena holds %d bytes for inputs (raise --plugin_arena_mb)", in.Name, n, zone.End()-zone.Start())
	}
	dst, err := arena.Bytes(off, n)
	if err == nil {
		if err = in.WriteTo(dst, in.DType); err != nil {
			err = apierr.Wrap(apierr.InvalidPrecision, err, "%v; input name: %s", err, in.Name)
		}
	} else {
		err = apierr.Wrap(apierr.InternalError, err, "input %s", in.Name)
	}
	if err != nil {
		_ = zone.Free(off)
		return device.TensorRef{}, 0, err
	}
	return device.TensorRef{Name: name, DType: in.DType, Shape: in.Shape, Offset: off, Length: n}, off, nil
}

// Output is one response tensor; Data aliases the plugin's arena until the
// Response is released.
type Output struct {
	// Name is the output name.
	Name string
	// DType is the element type.
	DType DataType
	// Shape is the concrete shape.
	Shape Shape
	// Data is little-endian row-major bytes, or (uint32 length, bytes)
	// elements for strings. It is nil for an output written into client
	// shared memory (Placed).
	Data []byte
	// Placed marks an output written into client shared memory; Length is
	// then the number of bytes written there.
	Placed bool
	// Length is the size of the output in bytes.
	Length uint64
	// Sequence marks the sequence_id output of a stateful model (TF
	// Serving's gRPC API writes it in uint64_val, as OVMS does).
	Sequence bool
	// Arena locates Data in its plugin's arena; Owner is nil when it lies
	// elsewhere. (A value: setting it costs the request path nothing.)
	Arena ArenaRef
}

// Strings splits a string output into its elements (views into Data).
func (o *Output) Strings() ([][]byte, error) { return SplitStrings(o.Data, o.Name) }

// SplitStrings splits (uint32 LE length, bytes) elements into views.
func SplitStrings(b []byte, name string) ([][]byte, error) {
	out, err := device.SplitStrings(b)
	if err != nil {
		return nil, fmt.Errorf("string tensor %q: %w", name, err)
	}
	return out, nil
}

// Response is the result of one inference.
type Response struct {
	// Model is the servable name.
	Model string
	// Version is the version that ran.
	Version int64
	// Outputs sorted by name, as OVMS returns them.
	Outputs []Output

	release func()
}

// NewResponse builds a response whose outputs are released by release.
func NewResponse(model string, version int64, outputs []Output, release func()) *Response {
	sort.Slice(outputs, func(i, j int) bool { return outputs[i].Name < outputs[j].Name })
	return &Response{Model: model, Version: version, Outputs: outputs, release: release}
}

// Release returns the output buffers to the device plugin. The Outputs'
// Data must not be used afterwards. Safe to call more than once.
func (r *Response) Release() {
	if r != nil && r.release != nil {
		r.release()
		r.release = nil
	}
}
