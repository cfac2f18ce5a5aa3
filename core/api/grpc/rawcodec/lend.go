package rawcodec

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// minLend is the size of raw outputs from which a response is marshalled
// with its raw outputs referenced instead of copied; smaller responses take
// the standard path (the pooled copy costs less than the bookkeeping).
const minLend = 64 << 10

// minLentBuffer is the size from which one raw output is handed to gRPC in
// place; smaller ones are copied beside the message's other fields. It is
// above gRPC's pooling threshold, so that such a buffer is reference
// counted and its release is seen.
const minLentBuffer = 4 << 10

// rawOutputField is ModelInferResponse.raw_output_contents, the message's
// last field: the other fields encoded by protobuf followed by these gives
// the bytes protobuf itself would write.
const rawOutputField = 6

var lent sync.Map // *kpb.ModelInferResponse or *tfspb.PredictResponse -> *lease

// Lend lets the codec send resp's raw outputs from the memory they alias
// instead of copying them into a marshalling buffer, when they are large
// enough to be worth it. release gives that memory back; it runs once, when
// the returned finish has been called (at the end of the RPC of ctx:
// rpcctx.OnFinish) and gRPC's transport has let go of every output buffer
// it was handed (see lease for when that is). A response that is never
// marshalled is released by finish alone. For small outputs, and beyond the
// bytes on loan SetLendBudget allows, finish is release itself (the codec
// then copies the outputs, as protobuf does).
func Lend(ctx context.Context, resp *kpb.ModelInferResponse, release func()) (finish func()) {
	return lend(ctx, resp, rawBytes(resp), release)
}

// LendPredict is Lend for a TensorFlow Serving PredictResponse: its
// outputs' large tensor_content goes to the transport in place.
func LendPredict(ctx context.Context, resp *tfspb.PredictResponse, release func()) (finish func()) {
	return lend(ctx, resp, contentBytes(resp), release)
}

// rawBytes is the size of resp's raw outputs.
func rawBytes(resp *kpb.ModelInferResponse) int {
	n := 0
	for _, b := range resp.GetRawOutputContents() {
		n += len(b)
	}
	return n
}

// contentBytes is the size of resp's outputs' tensor_content.
func contentBytes(resp *tfspb.PredictResponse) int {
	n := 0
	for _, tp := range resp.GetOutputs() {
		n += len(tp.GetTensorContent())
	}
	return n
}

// takeLease returns the lease of msg, whose outputs hold n bytes, if it was
// lent; a response too small to be lent is not looked up (the map's misses
// may take its lock).
func takeLease(msg any, n int) (*lease, bool) {
	if n < minLend {
		return nil, false
	}
	l, ok := lent.LoadAndDelete(msg)
	if !ok {
		return nil, false
	}
	return l.(*lease), true
}

// DefaultLendBudget is the output bytes on loan to the transport at most,
// until SetLendBudget: a quarter of the default plugin arena.
const DefaultLendBudget = 256 << 20

var (
	// lendBudget bounds onLoan: the output bytes lent and not yet
	// released. A client that stops reading holds its answer's bytes in
	// the arena until its connection ends; beyond the budget, responses are
	// copied by protobuf as before and their outputs released at the
	// RPC's end, so stalled clients cannot take the whole arena.
	lendBudget atomic.Int64
	onLoan     atomic.Int64
)

func init() { lendBudget.Store(DefaultLendBudget) }

// SetLendBudget sets how many output bytes may be on loan to gRPC's
// transport at once (0: none, every response is copied). The server sets a
// quarter of a plugin's arena.
func SetLendBudget(n int64) { lendBudget.Store(max(n, 0)) }

// OnLoan reports the output bytes lent and not yet released.
func OnLoan() int64 { return onLoan.Load() }

// lend registers msg, whose outputs hold n bytes, for the codec.
func lend(ctx context.Context, msg any, n int, release func()) (finish func()) {
	if n < minLend {
		return release
	}
	if onLoan.Add(int64(n)) > lendBudget.Load() {
		onLoan.Add(-int64(n))
		return release
	}
	l := &lease{release: release, bytes: int64(n)}
	l.refs.Store(1)
	lent.Store(msg, l)
	return func() {
		lent.Delete(msg)
		l.finish(ctx)
	}
}

// Lent counts responses lent and not yet marshalled or finished (for tests:
// it stays 0 in a healthy server).
func Lent() int {
	n := 0
	lent.Range(func(any, any) bool { n++; return true })
	return n
}

// marshalLent encodes a lent response: its fields but the raw outputs by
// protobuf (small), then each raw output as its field tag and length
// followed by the output's own bytes, handed to gRPC in place. The bytes are
// those protobuf would write for resp.
func (c Codec) marshalLent(resp *kpb.ModelInferResponse, l *lease) (mem.BufferSlice, error) {
	raws := resp.RawOutputContents
	resp.RawOutputContents = nil
	head, err := gproto.MarshalOptions{}.Marshal(resp)
	resp.RawOutputContents = raws
	if err != nil {
		return nil, err
	}
	var w lentWriter
	w.head = head
	for _, b := range raws {
		w.head = protowire.AppendVarint(protowire.AppendTag(w.head, rawOutputField, protowire.BytesType), uint64(len(b)))
		w.bytes(b, l)
	}
	return w.done(), nil
}

// lentWriter collects a message's encoding as small buffers it writes and
// large byte fields it lends.
type lentWriter struct {
	out  mem.BufferSlice
	head []byte
}

// bytes adds b, in place when it is large enough (lent under l) and copied
// otherwise.
func (w *lentWriter) bytes(b []byte, l *lease) {
	if len(b) < minLentBuffer {
		w.head = append(w.head, b...)
		return
	}
	if len(w.head) > 0 {
		w.out = append(w.out, mem.SliceBuffer(w.head))
	}
	w.out = append(w.out, l.lendBuffer(b))
	w.head = nil
}

// done returns the encoding.
func (w *lentWriter) done() mem.BufferSlice {
	if len(w.head) > 0 {
		w.out = append(w.out, mem.SliceBuffer(w.head))
	}
	return w.out
}

// PredictResponse's and TensorProto's field numbers (outputs is a map: each
// entry a message of key 1 and value 2).
const (
	predictOutputsField = 1
	mapKeyField         = 1
	mapValueField       = 2
	tensorContentField  = 4
)

// marshalLentPredict encodes a lent PredictResponse: each output as its map
// entry, the TensorProto's fields but tensor_content by protobuf, then
// tensor_content in place; then the response's other fields by protobuf.
// Outputs go in name order, as deterministic protobuf writes them; a
// parser reads the same message protobuf would write (tensor_content, field
// 4, comes after the fields protobuf wrote, which is protobuf's own order
// unless the tensor also has typed values, which ovms never sets beside
// tensor_content).
func (c Codec) marshalLentPredict(resp *tfspb.PredictResponse, l *lease) (mem.BufferSlice, error) {
	outs := resp.Outputs
	resp.Outputs = nil
	rest, err := gproto.MarshalOptions{}.Marshal(resp)
	resp.Outputs = outs
	if err != nil {
		return nil, err
	}
	var w lentWriter
	for _, name := range slices.Sorted(maps.Keys(outs)) {
		tp := outs[name]
		content := tp.GetTensorContent()
		var value []byte
		if tp != nil {
			tp.TensorContent = nil
			value, err = gproto.MarshalOptions{}.Marshal(tp)
			tp.TensorContent = content
			if err != nil {
				w.done().Free()
				return nil, err
			}
		}
		valueLen := len(value)
		if len(content) > 0 {
			valueLen += protowire.SizeTag(tensorContentField) + protowire.SizeBytes(len(content))
		}
		entryLen := protowire.SizeTag(mapKeyField) + protowire.SizeBytes(len(name)) +
			protowire.SizeTag(mapValueField) + protowire.SizeBytes(valueLen)
		w.head = protowire.AppendVarint(protowire.AppendTag(w.head, predictOutputsField, protowire.BytesType), uint64(entryLen))
		w.head = protowire.AppendString(protowire.AppendTag(w.head, mapKeyField, protowire.BytesType), name)
		w.head = protowire.AppendVarint(protowire.AppendTag(w.head, mapValueField, protowire.BytesType), uint64(valueLen))
		w.head = append(w.head, value...)
		if len(content) > 0 {
			w.head = protowire.AppendVarint(protowire.AppendTag(w.head, tensorContentField, protowire.BytesType), uint64(len(content)))
			w.bytes(content, l)
		}
	}
	w.head = append(w.head, rest...)
	return w.done(), nil
}
