// Package rpcctx runs work after a gRPC response has been written: a
// handler whose response aliases shared memory registers the release with
// OnFinish, and the server's stats handler runs it when the RPC has ended,
// after the response message was serialized.
package rpcctx

import (
	"context"
	"sync"

	"google.golang.org/grpc/stats"
)

type key struct{}

type finishers struct {
	mu  sync.Mutex
	fns []func()
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
type StatsHandler struct{}

var _ stats.Handler = StatsHandler{}

// TagRPC gives every RPC a finisher list.
func (StatsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, key{}, &finishers{})
}

// HandleRPC runs the finishers at the end of the RPC.
func (StatsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.End); !ok {
		return
	}
	f, ok := ctx.Value(key{}).(*finishers)
	if !ok {
		return
	}
	f.mu.Lock()
	fns := f.fns
	f.fns = nil
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// TagConn is unused.
func (StatsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn is unused.
func (StatsHandler) HandleConn(context.Context, stats.ConnStats) {}
