// Package rpcctx runs work after a gRPC response has been written: a
// handler whose response aliases shared memory registers the release with
// OnFinish, and the server's stats handler runs it when the RPC has ended,
// after the response message was serialized. OnConnEnd runs work when the
// RPC's connection has ended, after its transport stopped writing. The
// handler also hands the RPC's last request message to
// StatsHandler.LastRequest at its end.
package rpcctx

import (
	"context"
	"sync"

	"google.golang.org/grpc/stats"
)

type key struct{}

type finishers struct {
	mu   sync.Mutex
	fns  []func()
	last any // the last request message received
}

// OnFinish registers fn to run when the RPC of ctx ends. Without the stats
// handler in place (a direct call in a test) fn is never run by the server,
// so it reports false and the caller must run fn itself after use.
func OnFinish(ctx context.Context, fn func()) bool {
	f, ok := ctx.Value(key{}).(*finishers)
	if !ok {
		return false
	}
	f.mu.Lock()
	f.fns = append(f.fns, fn)
	f.mu.Unlock()
	return true
}

// StatsHandler is the grpc.StatsHandler that runs the finishers.
type StatsHandler struct {
	// LastRequest, when set, is called as an RPC ends, after its
	// finishers, with the last request message the RPC received (not
	// called when it received none). gRPC decodes a message before the
	// handler (or an interceptor) sees it and may fail the RPC after
	// decoding it, so this is where memory a codec keeps for a message
	// can be given back on every path (rawcodec.FreeUntaken).
	LastRequest func(req any)
}

var _ stats.Handler = StatsHandler{}

// TagRPC gives every RPC a finisher list.
func (StatsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, key{}, &finishers{})
}

// HandleRPC notes each request message received and runs the finishers,
// then LastRequest, at the end of the RPC.
func (h StatsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	var in *stats.InPayload
	switch p := s.(type) {
	case *stats.InPayload:
		if h.LastRequest == nil {
			return
		}
		in = p
	case *stats.End:
	default:
		return
	}
	f, ok := ctx.Value(key{}).(*finishers)
	if !ok {
		return
	}
	f.mu.Lock()
	if in != nil {
		f.last = in.Payload
		f.mu.Unlock()
		return
	}
	fns, last := f.fns, f.last
	f.fns, f.last = nil, nil
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
	if last != nil && h.LastRequest != nil {
		h.LastRequest(last)
	}
}

// connKey marks a connection's state in the contexts of its RPCs.
type connKey struct{}

// conn is the work waiting for one connection's end.
type conn struct {
	mu    sync.Mutex
	ended bool
	next  uint64
	fns   map[uint64]func()
}

// OnConnEnd registers fn to run once the connection that ctx's RPC came on
// has ended. gRPC reports that end after the connection's writer has
// stopped, so by then nothing of the connection reads memory a response
// handed to the transport any more. It returns a function that unregisters
// fn, and false (registering nothing) when the connection has already ended
// or is unknown (no stats handler: a direct call in a test).
func OnConnEnd(ctx context.Context, fn func()) (cancel func(), ok bool) {
	c, ok := ctx.Value(connKey{}).(*conn)
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil, false
	}
	if c.fns == nil {
		c.fns = map[uint64]func(){}
	}
	id := c.next
	c.next++
	c.fns[id] = fn
	return func() {
		c.mu.Lock()
		delete(c.fns, id)
		c.mu.Unlock()
	}, true
}

// TagConn gives every connection its end hooks.
func (StatsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, &conn{})
}

// HandleConn runs the connection's end hooks at its end.
func (StatsHandler) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); !ok {
		return
	}
	c, ok := ctx.Value(connKey{}).(*conn)
	if !ok {
		return
	}
	c.mu.Lock()
	c.ended = true
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
