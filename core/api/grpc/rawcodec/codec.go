// Package rawcodec is the gRPC server codec of ovms: the standard protobuf
// codec, except that the raw_input_contents of a large KServe
// ModelInferRequest, and the tensor_content of a large TF Serving
// PredictRequest's inputs, are not copied out of the buffers gRPC received
// them in. They stay there, as lists of fragments, until the model manager has
// copied them into the device plugin's arena, so a tensor's bytes are copied
// once between the socket and the engine instead of three times (the
// fragments into one buffer, that buffer into the message, the message into
// the arena). The other way, the large raw_output_contents of a
// ModelInferResponse lent to the codec (Lend), and the large tensor_content
// of a PredictResponse (LendPredict), go to gRPC's transport from the
// arena itself, not through a marshalling buffer. Pool is the server's
// buffer pool for received frames.
package rawcodec

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/core/reclaim"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// minAlias is the message size from which raw contents are kept in place;
// smaller messages take the standard path.
const minAlias = 64 << 10

// rawField is ModelInferRequest.raw_input_contents.
const rawField = 7

// Codec implements encoding.CodecV2 under the name "proto".
type Codec struct{ std encoding.CodecV2 }

// New returns the codec (install it with grpc.ForceServerCodecV2).
func New() Codec { return Codec{std: encoding.GetCodecV2(proto.Name)} }

// Name is the content subtype the codec serves.
func (Codec) Name() string { return proto.Name }

// Marshal is the standard protobuf marshalling, except for a
// ModelInferResponse lent with Lend or a PredictResponse lent with
// LendPredict: their large outputs go to gRPC's transport in place, not
// copied.
func (c Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch resp := v.(type) {
	case *kpb.ModelInferResponse:
		if l, ok := takeLease(resp, rawBytes(resp)); ok {
			return c.marshalLent(resp, l)
		}
	case *tfspb.PredictResponse:
		if l, ok := takeLease(resp, contentBytes(resp)); ok {
			return c.marshalLentPredict(resp, l)
		}
	}
	return c.std.Marshal(v)
}

// Unmarshal decodes v; a large ModelInferRequest keeps its raw contents in
// data, and a large PredictRequest its inputs' tensor_content, holding a
// reference to data until the Free of Take's or TakePredict's Raw. A large
// message arms the reclaim of free memory (package reclaim).
func (c Codec) Unmarshal(data mem.BufferSlice, v any) error {
	reclaim.After(data.Len())
	if data.Len() < minAlias {
		return c.std.Unmarshal(data, v)
	}
	switch req := v.(type) {
	case *kpb.ModelInferRequest:
		return c.unmarshalLarge(data, req)
	case *tfspb.PredictRequest:
		return c.unmarshalLargePredict(data, req)
	}
	return c.std.Unmarshal(data, v)
}

// unmarshalLarge decodes a large ModelInferRequest with split; a message
// split does not take (groups, a truncated field) goes the standard way,
// so that every message decodes, or fails, as protobuf says.
func (c Codec) unmarshalLarge(data mem.BufferSlice, req *kpb.ModelInferRequest) error {
	parts, rest, err := split(data)
	if err != nil {
		return c.std.Unmarshal(data, req)
	}
	if err := gproto.Unmarshal(rest, req); err != nil {
		return err
	}
	hold(req, &Raw{Parts: parts, data: data})
	return nil
}

// Raw is the raw_input_contents of one ModelInferRequest, or the
// tensor_content of one PredictRequest's inputs, in place.
type Raw struct {
	// Parts holds each raw buffer of a ModelInferRequest as its fragments,
	// in order.
	Parts [][][]byte
	// Content holds the tensor_content of a PredictRequest's inputs by
	// input name, each as its fragments; an input absent from it has
	// none (its TensorProto in the message has none either).
	Content map[string][][]byte
	data    mem.BufferSlice
	once    sync.Once
}

// Free returns the received buffers to gRPC's pool; Parts and Content must
// not be used afterwards.
func (r *Raw) Free() {
	r.once.Do(func() {
		r.data.Free()
		live.Add(-1)
	})
}

var (
	held sync.Map     // *kpb.ModelInferRequest or *tfspb.PredictRequest -> *Raw
	live atomic.Int64 // Raws held or taken and not yet freed
)

// hold keeps r, which holds its own reference to the received buffers, for
// req until a handler takes it. A message decoded into req before (gRPC
// decodes a unary call's second message into the same one before failing
// the call) is freed.
func hold(req any, r *Raw) {
	r.data.Ref()
	live.Add(1)
	if old, ok := held.Swap(req, r); ok {
		old.(*Raw).Free()
	}
}

// Take returns and forgets the raw contents kept for req, or nil when req
// was decoded the standard way (its RawInputContents are then set).
func Take(req *kpb.ModelInferRequest) *Raw { return take(req) }

// TakePredict returns and forgets the tensor_content kept for req's inputs
// (Raw.Content), or nil when req was decoded the standard way (its
// TensorProtos' TensorContent are then set).
func TakePredict(req *tfspb.PredictRequest) *Raw { return take(req) }

func take(req any) *Raw {
	v, ok := held.LoadAndDelete(req)
	if !ok {
		return nil
	}
	return v.(*Raw)
}

var errTruncated = errors.New("truncated message")

// split walks the top-level fields of an encoded ModelInferRequest spread
// over data's buffers: raw_input_contents are returned as fragments, every
// other field is re-encoded into rest (they are small).
func split(data mem.BufferSlice) (parts [][][]byte, rest []byte, err error) {
	r := newReader(data)
	for !r.eof() {
		num, typ, err := r.tag()
		if err != nil {
			return nil, nil, err
		}
		if num == rawField && typ == protowire.BytesType {
			frags, err := r.bytes()
			if err != nil {
				return nil, nil, err
			}
			parts = append(parts, frags)
			continue
		}
		if rest, err = r.copyField(rest, num, typ); err != nil {
			return nil, nil, err
		}
	}
	return parts, rest, nil
}

func newReader(data mem.BufferSlice) *reader {
	r := &reader{bufs: make([][]byte, len(data))}
	for i, b := range data {
		r.bufs[i] = b.ReadOnlyData()
	}
	return r
}

// tag reads a field's tag.
func (r *reader) tag() (protowire.Number, protowire.Type, error) {
	tag, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(tag)
	if num <= 0 {
		return 0, 0, fmt.Errorf("invalid field number %d", num)
	}
	return num, typ, nil
}

// bytes reads a length-delimited field's value as views into the
// fragments.
func (r *reader) bytes() ([][]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	return r.take(n)
}

// copyField appends the field whose tag was just read, and its value, to
// out (varints re-encoded minimally). Groups are refused: the caller then
// falls back to protobuf's own decoding.
func (r *reader) copyField(out []byte, num protowire.Number, typ protowire.Type) ([]byte, error) {
	switch typ {
	case protowire.BytesType:
		frags, err := r.bytes()
		if err != nil {
			return nil, err
		}
		return appendBytesField(out, num, frags), nil
	case protowire.VarintType:
		v, err := r.varint()
		if err != nil {
			return nil, err
		}
		return protowire.AppendVarint(protowire.AppendTag(out, num, typ), v), nil
	case protowire.Fixed32Type, protowire.Fixed64Type:
		n := uint64(4)
		if typ == protowire.Fixed64Type {
			n = 8
		}
		frags, err := r.take(n)
		if err != nil {
			return nil, err
		}
		out = protowire.AppendTag(out, num, typ)
		for _, f := range frags {
			out = append(out, f...)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported wire type %d", typ)
	}
}

// appendBytesField appends a length-delimited field made of frags.
func appendBytesField(out []byte, num protowire.Number, frags [][]byte) []byte {
	n := 0
	for _, f := range frags {
		n += len(f)
	}
	out = protowire.AppendTag(out, num, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(n))
	for _, f := range frags {
		out = append(out, f...)
	}
	return out
}

// reader reads across the fragments of a message.
type reader struct {
	bufs [][]byte
	i    int // current buffer
	off  int // offset in it
}

func (r *reader) eof() bool {
	for r.i < len(r.bufs) && r.off == len(r.bufs[r.i]) {
		r.i, r.off = r.i+1, 0
	}
	return r.i == len(r.bufs)
}

func (r *reader) byte() (byte, error) {
	if r.eof() {
		return 0, errTruncated
	}
	b := r.bufs[r.i][r.off]
	r.off++
	return b, nil
}

func (r *reader) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift == 63 && b > 1 {
			break // past 64 bits, which protobuf refuses
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint overflows")
}

// take returns the next n bytes as views into the fragments.
func (r *reader) take(n uint64) ([][]byte, error) {
	var out [][]byte
	for n > 0 {
		if r.eof() {
			return nil, errTruncated
		}
		b := r.bufs[r.i][r.off:]
		k := uint64(len(b))
		if k > n {
			k = n
		}
		out = append(out, b[:k:k])
		r.off += int(k)
		n -= k
	}
	return out, nil
}

// Outstanding counts decoded requests whose contents still hold received
// buffers: not taken yet, or taken and not freed (for tests and
// diagnostics: it comes back to 0 in a healthy server once its calls have
// returned).
func Outstanding() int { return int(live.Load()) }
