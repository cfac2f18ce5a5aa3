// Package rawcodec is the gRPC server codec of ovms: the standard protobuf
// codec, except that the raw_input_contents of a large KServe
// ModelInferRequest are not copied out of the buffers gRPC received them in.
// They stay there, as lists of fragments, until the model manager has
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
// data, which it holds a reference to until Take's Free. A large message
// arms the reclaim of free memory (package reclaim).
func (c Codec) Unmarshal(data mem.BufferSlice, v any) error {
	reclaim.After(data.Len())
	req, ok := v.(*kpb.ModelInferRequest)
	if !ok || data.Len() < minAlias {
		return c.std.Unmarshal(data, v)
	}
	return c.unmarshalLarge(data, req)
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
	data.Ref()
	held.Store(req, &Raw{Parts: parts, data: data})
	return nil
}

// Raw is the raw_input_contents of one request, in place: Parts[i] lists
// the fragments of the i-th buffer.
type Raw struct {
	// Parts holds each raw buffer as its fragments, in order.
	Parts [][][]byte
	data  mem.BufferSlice
	once  sync.Once
}

// Free returns the received buffers to gRPC's pool; Parts must not be used
// afterwards.
func (r *Raw) Free() { r.once.Do(r.data.Free) }

var held sync.Map // *kpb.ModelInferRequest -> *Raw

// Take returns and forgets the raw contents kept for req, or nil when req
// was decoded the standard way (its RawInputContents are then set).
func Take(req *kpb.ModelInferRequest) *Raw {
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
	r := reader{bufs: make([][]byte, len(data))}
	for i, b := range data {
		r.bufs[i] = b.ReadOnlyData()
	}
	for !r.eof() {
		tag, err := r.varint()
		if err != nil {
			return nil, nil, err
		}
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return nil, nil, fmt.Errorf("invalid field number %d", num)
		}
		switch typ {
		case protowire.BytesType:
			n, err := r.varint()
			if err != nil {
				return nil, nil, err
			}
			frags, err := r.take(n)
			if err != nil {
				return nil, nil, err
			}
			if num == rawField {
				parts = append(parts, frags)
				continue
			}
			rest = protowire.AppendTag(rest, num, typ)
			rest = protowire.AppendVarint(rest, n)
			for _, f := range frags {
				rest = append(rest, f...)
			}
		case protowire.VarintType:
			v, err := r.varint()
			if err != nil {
				return nil, nil, err
			}
			rest = protowire.AppendVarint(protowire.AppendTag(rest, num, typ), v)
		case protowire.Fixed32Type, protowire.Fixed64Type:
			n := uint64(4)
			if typ == protowire.Fixed64Type {
				n = 8
			}
			frags, err := r.take(n)
			if err != nil {
				return nil, nil, err
			}
			rest = protowire.AppendTag(rest, num, typ)
			for _, f := range frags {
				rest = append(rest, f...)
			}
		default:
			return nil, nil, fmt.Errorf("unsupported wire type %d", typ)
		}
	}
	return parts, rest, nil
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

// Outstanding counts decoded requests whose raw contents nobody has taken
// yet (for tests and diagnostics: it stays 0 in a healthy server).
func Outstanding() int {
	n := 0
	held.Range(func(any, any) bool { n++; return true })
	return n
}
