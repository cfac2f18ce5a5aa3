package rawcodec

import (
	"context"
	"runtime"
	"sync/atomic"

	"google.golang.org/grpc/mem"

	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
)

// lease is the memory behind one lent response's outputs (the device
// plugin's arena). gRPC's transport reads a lent buffer until it has
// written it and then frees it, but it does not free every buffer it was
// handed: a connection that ends with a response still queued leaves the
// stream's buffers to the garbage collector, and so does a stream closed
// between its headers and its data being queued. So the memory is released,
// once, at the first of:
//   - the RPC has ended (finish) and every lent buffer was freed;
//   - the RPC has ended and its connection has ended: gRPC reports the
//     connection's end after the connection's writer has stopped
//     (rpcctx.OnConnEnd), so nothing reads the buffers any more (grpc-go
//     v1.85: serveStreams sends ConnEnd after HandleStreams, which waits
//     for loopyWriterDone; TestLargeOutputsSentFromTheArena's client that
//     goes away exercises it);
//   - the RPC has ended and every lent buffer was freed or collected as
//     garbage (a cleanup on each, for a buffer gRPC dropped without
//     freeing it: unreachable, it is read by nobody).
type lease struct {
	// refs counts finish's reference and one per lent buffer not yet
	// given back.
	refs    atomic.Int32
	release func()
	// bytes are the output bytes on loan (see onLoan).
	bytes int64
	fired atomic.Bool
	// unhook unregisters the connection-end hook finish set.
	unhook atomic.Pointer[func()]
}

// lendBuffer hands b to gRPC under l.
func (l *lease) lendBuffer(b []byte) mem.Buffer {
	lb := &lentBuf{b: b, tok: &lentToken{l: l}}
	l.refs.Add(1)
	runtime.AddCleanup(lb, (*lentToken).giveBack, lb.tok)
	return mem.NewBuffer(&lb.b, lb)
}

// lentBuf is one output buffer handed to gRPC, and the mem.BufferPool its
// last Free returns it to. gRPC's buffer keeps &b (so the lentBuf) while
// any view of it lives; the cleanup on the lentBuf runs only once nothing
// of gRPC can reach the bytes.
type lentBuf struct {
	b   []byte
	tok *lentToken
}

// Get is never called: a lentBuf is the pool of its own buffer only so
// that the buffer's last Free reaches it.
func (*lentBuf) Get(int) *[]byte { panic("rawcodec: a lent buffer hands out no buffers") }

// Put is the buffer's last Free (on gRPC's connection writer).
func (lb *lentBuf) Put(*[]byte) { lb.tok.giveBack() }

// lentToken is a lent buffer's return, by Put or by its cleanup, whichever
// comes first.
type lentToken struct {
	back atomic.Bool
	l    *lease
}

// giveBack returns the buffer's reference on its lease, once.
func (t *lentToken) giveBack() {
	if !t.back.Swap(true) {
		t.l.drop(true)
	}
}

// finish is the RPC's end: the buffers' references decide from now on, or
// the connection's end, whichever comes first; a connection already gone
// (or none known: a direct call) leaves nothing that reads them.
func (l *lease) finish(ctx context.Context) {
	unhook, ok := rpcctx.OnConnEnd(ctx, func() { l.fire(true) })
	if !ok {
		l.fire(false)
		return
	}
	l.unhook.Store(&unhook)
	l.drop(false)
}

// drop gives up one reference and releases at the last.
func (l *lease) drop(async bool) {
	if l.refs.Add(-1) == 0 {
		l.fire(async)
	}
}

// fire releases the memory, once. From gRPC's connection writer, a
// cleanup or the connection's end (async) the release runs on a goroutine
// of its own: it may wait for the device plugin, and none of those may
// wait.
func (l *lease) fire(async bool) {
	if l.fired.Swap(true) {
		return
	}
	if u := l.unhook.Load(); u != nil {
		(*u)()
	}
	onLoan.Add(-l.bytes)
	if async {
		go l.release()
		return
	}
	l.release()
}
