package rawcodec

import (
	"bytes"
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// pattern returns n bytes of a pattern seeded by seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// connCtx is the context of an RPC on a connection the stats handler
// tracks, and the connection's end.
func connCtx() (context.Context, func()) {
	h := rpcctx.StatsHandler{}
	ctx := h.TagConn(context.Background(), &stats.ConnTagInfo{})
	return ctx, func() { h.HandleConn(ctx, &stats.ConnEnd{}) }
}

// counter counts releases, which may run on a goroutine of their own.
type counter struct{ n atomic.Int32 }

func (c *counter) release() { c.n.Add(1) }

// await waits up to 5 s for n releases and fails unless it sees exactly n.
func (c *counter) await(t *testing.T, n int32, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.n.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // a second release would show now
	if got := c.n.Load(); got != n {
		t.Fatalf("%s: released %d times, want %d", what, got, n)
	}
}

func response(raws ...[]byte) *kpb.ModelInferResponse {
	r := &kpb.ModelInferResponse{ModelName: "m", ModelVersion: "3", Id: "x",
		Parameters: map[string]*kpb.InferParameter{"p": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: true}}}}
	for i, b := range raws {
		r.Outputs = append(r.Outputs, &kpb.ModelInferResponse_InferOutputTensor{Name: string(rune('a' + i)), Datatype: "UINT8", Shape: []int64{int64(len(b))}})
	}
	r.RawOutputContents = raws
	return r
}

// TestLentResponseIsProtobufsBytes: a lent response marshals to exactly
// the bytes protobuf writes, with its large outputs in place, and gives
// its memory back only once the RPC has finished and the transport freed
// every buffer, in either order.
func TestLentResponseIsProtobufsBytes(t *testing.T) {
	for _, raws := range [][][]byte{
		{pattern(100<<10, 1)},
		{pattern(3000, 2), pattern(70<<10, 3), nil, pattern(10, 4), pattern(5000, 5)},
		{pattern(minLend, 6), pattern(minLentBuffer-1, 7)},
	} {
		for _, finishFirst := range []bool{true, false} {
			resp := response(raws...)
			want, err := proto.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			ctx, _ := connCtx()
			var released counter
			finish := Lend(ctx, resp, released.release)
			data, err := New().Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if got := data.Materialize(); !bytes.Equal(got, want) {
				t.Fatalf("%d outputs: %d bytes differ from protobuf's %d", len(raws), len(got), len(want))
			}
			if len(resp.RawOutputContents) != len(raws) {
				t.Fatal("Marshal left the response without its outputs")
			}
			inPlace := 0
			for _, b := range data {
				for _, r := range raws {
					if len(r) >= minLentBuffer && &b.ReadOnlyData()[0] == &r[0] {
						inPlace++
					}
				}
			}
			large := 0
			for _, r := range raws {
				if len(r) >= minLentBuffer {
					large++
				}
			}
			if inPlace != large {
				t.Fatalf("%d of %d large outputs sent in place", inPlace, large)
			}
			if finishFirst {
				finish()
			} else {
				data.Free()
			}
			released.await(t, 0, "after one of the RPC's end and the transport")
			if finishFirst {
				data.Free()
			} else {
				finish()
			}
			released.await(t, 1, "after both")
			if Lent() != 0 {
				t.Fatalf("%d responses still lent", Lent())
			}
		}
	}
}

// TestLendingTakesOnlyLargeResponses: small outputs are copied as
// protobuf does (finish is the release itself), and a lent response that
// is never marshalled (the RPC failed first) is released by finish alone.
func TestLendingTakesOnlyLargeResponses(t *testing.T) {
	ctx, _ := connCtx()
	var released counter
	small := response(pattern(minLend-1, 1))
	finish := Lend(ctx, small, released.release)
	if Lent() != 0 {
		t.Fatal("a small response was lent")
	}
	finish()
	released.await(t, 1, "small response")
	big := response(pattern(minLend, 1))
	finish = Lend(ctx, big, released.release)
	if Lent() != 1 {
		t.Fatal("a large response was not lent")
	}
	finish()
	released.await(t, 2, "never marshalled")
	if Lent() != 0 {
		t.Fatalf("%d lent", Lent())
	}
	// Marshalled after finish (not what gRPC does) it takes the standard path.
	data, err := New().Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(big)
	if !bytes.Equal(data.Materialize(), want) {
		t.Fatal("standard path bytes differ")
	}
	data.Free()
	released.await(t, 2, "standard path")
}

// TestLeaseBackstops: buffers gRPC's transport never frees (a connection
// that ended with the response queued, a stream closed before its data was
// queued) are released by the connection's end or by the garbage
// collector, and never before the RPC's end; without a known connection
// (a direct call) finish releases at once.
func TestLeaseBackstops(t *testing.T) {
	marshal := func(ctx context.Context, released *counter) (mem.BufferSlice, func()) {
		resp := response(pattern(minLend, 1), pattern(minLend, 2))
		finish := Lend(ctx, resp, released.release)
		data, err := New().Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		return data, finish
	}
	t.Run("connection end", func(t *testing.T) {
		ctx, end := connCtx()
		var released counter
		data, finish := marshal(ctx, &released)
		defer runtime.KeepAlive(data)
		end() // before the RPC's end: the RPC's end decides
		finish()
		released.await(t, 1, "RPC ended after its connection")

		ctx, end = connCtx()
		var again counter
		data2, finish := marshal(ctx, &again)
		defer runtime.KeepAlive(data2)
		finish()
		again.await(t, 0, "RPC ended, buffers held")
		end()
		again.await(t, 1, "connection ended")
		data2.Free() // late frees change nothing
		again.await(t, 1, "after the frees")
	})
	t.Run("garbage collected", func(t *testing.T) {
		ctx, _ := connCtx()
		var released counter
		_, finish := marshal(ctx, &released) // the transport drops the buffers
		finish()
		deadline := time.Now().Add(5 * time.Second)
		for released.n.Load() == 0 && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		released.await(t, 1, "buffers collected")
	})
	t.Run("collected before the RPC's end", func(t *testing.T) {
		ctx, _ := connCtx()
		var released counter
		_, finish := marshal(ctx, &released)
		for range 3 {
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		released.await(t, 0, "buffers collected, RPC running")
		finish()
		released.await(t, 1, "RPC ended")
	})
	t.Run("no connection", func(t *testing.T) {
		var released counter
		data, finish := marshal(context.Background(), &released)
		defer runtime.KeepAlive(data)
		finish()
		released.await(t, 1, "direct call")
	})
}

func TestPoolTiers(t *testing.T) {
	p := NewPool()
	for _, c := range []struct{ size, cap int }{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {4096, 4096}, {16385, 32768}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1},
	} {
		b := p.Get(c.size)
		if len(*b) != c.size || cap(*b) != c.cap {
			t.Fatalf("Get(%d): len %d cap %d, want cap %d", c.size, len(*b), cap(*b), c.cap)
		}
		p.Put(b)
	}
	// A buffer comes back for a size of its tier, with its old bytes (not
	// cleared: gRPC's transport overwrites every byte it hands out).
	b := p.Get(16384)
	(*b)[0] = 42
	p.Put(b)
	reused := false
	for range 100 { // sync.Pool may drop an entry; one of many Gets finds it
		c := p.Get(10000)
		if len(*c) != 10000 || cap(*c) != 16384 {
			t.Fatalf("len %d cap %d", len(*c), cap(*c))
		}
		if &(*c)[0] == &(*b)[0] {
			reused = true
			break
		}
	}
	if !reused {
		t.Log("the pool never handed the buffer back (sync.Pool dropped it)")
	}
	// Foreign buffers are dropped, not pooled into a tier they do not fit.
	odd := make([]byte, 1000)
	p.Put(&odd)
	for range 10 {
		if g := p.Get(1000); cap(*g) != 1024 {
			t.Fatalf("Get(1000) returned cap %d", cap(*g))
		}
	}
	var _ mem.BufferPool = p
}

// TestLentPredictResponse: a lent PredictResponse decodes to the message
// it was, byte for byte what deterministic protobuf writes when no output
// has typed values beside its content, with its large contents in place.
func TestLentPredictResponse(t *testing.T) {
	big, mid := pattern(80<<10, 1), pattern(5000, 2)
	tensor := func(b []byte) *fw.TensorProto {
		return &fw.TensorProto{Dtype: fw.DataType_DT_UINT8, TensorContent: b,
			TensorShape: &fw.TensorShapeProto{Dim: []*fw.TensorShapeProto_Dim{{Size: int64(len(b))}}}}
	}
	spec := &tfspb.ModelSpec{Name: "m", VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(2)}}
	for _, c := range []struct {
		outs  map[string]*fw.TensorProto
		bytes bool // byte-equal to deterministic protobuf
	}{
		{map[string]*fw.TensorProto{"out": tensor(big)}, true},
		{map[string]*fw.TensorProto{"z": tensor(big), "a": tensor(mid), "small": tensor(pattern(10, 3)), "empty": tensor(nil)}, true},
		{map[string]*fw.TensorProto{"big": tensor(big), "strings": {Dtype: fw.DataType_DT_STRING, StringVal: [][]byte{[]byte("x"), []byte("yz")}},
			"seq": {Dtype: fw.DataType_DT_UINT64, Uint64Val: []uint64{7}}}, true},
	} {
		resp := &tfspb.PredictResponse{Outputs: c.outs, ModelSpec: spec}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		ctx, _ := connCtx()
		var released counter
		finish := LendPredict(ctx, resp, released.release)
		data, err := New().Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got := data.Materialize()
		if c.bytes && !bytes.Equal(got, want) {
			t.Fatalf("%d outputs: %d bytes differ from protobuf's %d", len(c.outs), len(got), len(want))
		}
		var back tfspb.PredictResponse
		if err := proto.Unmarshal(got, &back); err != nil || !proto.Equal(&back, resp) {
			t.Fatalf("decoded %v (%v), want %v", &back, err, resp)
		}
		if c.outs["big"] != nil && c.outs["big"].TensorContent == nil || c.outs["z"] != nil && c.outs["z"].TensorContent == nil {
			t.Fatal("Marshal left an output without its content")
		}
		inPlace := false
		for _, b := range data {
			if d := b.ReadOnlyData(); len(d) > 0 && &d[0] == &big[0] {
				inPlace = true
			}
		}
		if !inPlace {
			t.Fatal("the large content was copied")
		}
		data.Free()
		released.await(t, 0, "before the RPC's end")
		finish()
		released.await(t, 1, "after the RPC's end")
		if Lent() != 0 {
			t.Fatalf("%d lent", Lent())
		}
	}
}

// TestLendBudget: beyond the bytes SetLendBudget allows on loan, responses
// are copied (finish is the release), and released loans make room again.
func TestLendBudget(t *testing.T) {
	defer SetLendBudget(DefaultLendBudget)
	SetLendBudget(3 * minLend / 2)
	ctx, _ := connCtx()
	var released counter
	first := Lend(ctx, response(pattern(minLend, 1)), released.release)
	if Lent() != 1 || OnLoan() != minLend {
		t.Fatalf("first response: %d lent, %d bytes on loan", Lent(), OnLoan())
	}
	second := Lend(ctx, response(pattern(minLend, 2)), released.release)
	if Lent() != 1 || OnLoan() != minLend {
		t.Fatalf("over the budget: %d lent, %d bytes on loan", Lent(), OnLoan())
	}
	second()
	released.await(t, 1, "copied response")
	first()
	released.await(t, 2, "lent response")
	if OnLoan() != 0 {
		t.Fatalf("%d bytes still on loan", OnLoan())
	}
	third := Lend(ctx, response(pattern(minLend, 3)), released.release)
	if Lent() != 1 {
		t.Fatal("no room after the release")
	}
	third()
	SetLendBudget(0)
	Lend(ctx, response(pattern(minLend, 4)), released.release)()
	if Lent() != 0 || OnLoan() != 0 {
		t.Fatal("lent with a budget of 0")
	}
}
