package device

import (
	"fmt"
	"slices"
	"time"
	"unsafe"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Call is one Infer call as Env.Respond hands it to a device: the inputs'
// memory and the outputs' allocation, with the bookkeeping done by the SDK.
// A Call is used by one goroutine, during Respond only.
type Call struct {
	env      *Env
	req      *InferRequest
	outs     []TensorRef
	allocs   []uint64 // plugin-zone offsets, freed if the call fails
	releases []func()
	checks   []check // client-region tensors to check once the work is done
}

// check is a tensor in a client region whose region must still be intact
// when the call ends.
type check struct {
	what string
	ref  TensorRef
}

// Respond runs one Infer call: run reads the inputs with Call.Input and
// writes the outputs it allocates with Call.Output. Respond frees every
// output it allocated if run fails (or panics), writes outputs the host
// placed in client shared memory there (InferRequest.Placements), drops
// (and frees) outputs the request did not ask for (see Call.Wants), checks
// that client regions were not truncated meanwhile, and records the engine
// times. A device's Infer can be just:
//
//	return env.Respond(req, func(c *device.Call) error { ... })
func (e *Env) Respond(req *InferRequest, run func(c *Call) error) (*InferResponse, error) {
	c := &Call{env: e, req: req}
	ok := false
	defer func() {
		for _, r := range c.releases {
			r()
		}
		if !ok { // an error or a panic
			for _, off := range c.allocs {
				_ = e.Arena.PluginZone().Free(off)
			}
		}
	}()
	start := time.Now()
	if err := run(c); err != nil {
		return nil, err
	}
	end := time.Now()
	outs := c.outs[:0]
	for _, o := range c.outs {
		if c.Wants(o.Name) {
			outs = append(outs, o)
		} else if o.Region == 0 {
			_ = e.Arena.PluginZone().Free(o.Offset)
			c.allocs = slices.DeleteFunc(c.allocs, func(off uint64) bool { return off == o.Offset })
		}
	}
	c.outs = outs
	for _, ch := range c.checks {
		if err := e.Intact(ch.ref); err != nil {
			return nil, RegionError(ch.what, ch.ref.Name, err)
		}
	}
	ok = true
	return &InferResponse{Outputs: c.outs, EngineStart: start.UnixNano(), EngineEnd: end.UnixNano()}, nil
}

// Request is the call's request.
func (c *Call) Request() *InferRequest { return c.req }

// Input returns the memory of the request's input called name (read it
// only, and only during the call) and its description. A request without
// that input is an INVALID_ARGUMENT error naming it.
func (c *Call) Input(name string) (TensorRef, []byte, error) {
	for _, in := range c.req.Inputs {
		if in.Name == name {
			b, err := c.Bytes(in)
			return in, b, err
		}
	}
	return TensorRef{}, nil, status.Errorf(codes.InvalidArgument, "missing input %q", name)
}

// Bytes returns the memory of one of the request's inputs (read-only,
// valid during the call).
func (c *Call) Bytes(in TensorRef) ([]byte, error) { return c.mem("input", in) }

// mem maps a tensor's memory for the call and remembers to release it and,
// for a client region, to check the region when the call ends.
func (c *Call) mem(what string, ref TensorRef) ([]byte, error) {
	b, release, err := c.env.Bytes(ref)
	if err != nil {
		return nil, RegionError(what, ref.Name, err)
	}
	c.releases = append(c.releases, release)
	if ref.Region != 0 {
		c.checks = append(c.checks, check{what, ref})
	}
	return b, nil
}

// Wants reports whether the request asks for output name (a request that
// names no outputs asks for all of them).
func (c *Call) Wants(name string) bool {
	if len(c.req.Outputs) == 0 {
		return true
	}
	for _, o := range c.req.Outputs {
		if o == name {
			return true
		}
	}
	return false
}

// Output allocates output name, a numeric tensor of dtype and shape, and
// returns its memory for the device to fill; it is in the response once
// run returns nil. Where the host placed the output in client shared memory
// the memory is there, else in the plugin zone of the arena.
func (c *Call) Output(name string, dtype DataType, shape []int64) ([]byte, error) {
	if dtype.Size() == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "output %q: %v has no fixed element size; use OutputBytes", name, dtype)
	}
	n := uint64(dtype.Size())
	for _, d := range shape {
		if d < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "output %q: negative dimension in %v", name, shape)
		}
		n *= uint64(d)
	}
	return c.OutputBytes(name, dtype, shape, n)
}

// OutputBytes is Output with the size in bytes given, for String tensors
// (see PutStrings and StringsSize) or any layout the device computes.
func (c *Call) OutputBytes(name string, dtype DataType, shape []int64, size uint64) ([]byte, error) {
	ref := TensorRef{Name: name, DType: dtype, Shape: shape, Length: size}
	for _, o := range c.outs {
		if o.Name == name {
			return nil, status.Errorf(codes.Internal, "output %q allocated twice", name)
		}
	}
	for _, p := range c.req.Placements {
		if p.Name != name {
			continue
		}
		if size > p.Length {
			return nil, status.Errorf(codes.InvalidArgument, "output %q: %d bytes do not fit the %d bytes of its shared-memory region", name, size, p.Length)
		}
		ref.Region, ref.Offset = p.Region, p.Offset
		b, err := c.mem("output", ref)
		if err != nil {
			return nil, err
		}
		c.outs = append(c.outs, ref)
		return b, nil
	}
	off, err := c.env.Arena.PluginZone().Alloc(size)
	if err != nil {
		return nil, status.Errorf(codes.ResourceExhausted, "output %q: %v", name, err)
	}
	c.allocs = append(c.allocs, off)
	b, err := c.env.Arena.Bytes(off, size)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", name, err)
	}
	ref.Offset = off
	c.outs = append(c.outs, ref)
	return b, nil
}

// Number is an element type View reads tensor memory as.
type Number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// View returns tensor memory as a slice of T, without copying (tensor bytes
// are little-endian, as the machines ovms runs on). Trailing bytes that do
// not make a whole element are left out. The memory must be aligned for T:
// the arena's always is; a client region's is where the client's offset is
// a multiple of the element size (else copy the bytes out first).
func View[T Number](b []byte) []T {
	var zero T
	n := len(b) / int(unsafe.Sizeof(zero))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
