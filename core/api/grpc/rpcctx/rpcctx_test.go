package rpcctx

import (
	"context"
	"testing"

	"google.golang.org/grpc/stats"
)

func TestOnConnEnd(t *testing.T) {
	if _, ok := OnConnEnd(context.Background(), func() {}); ok {
		t.Fatal("registered without a connection")
	}
	h := StatsHandler{}
	ctx := h.TagConn(context.Background(), &stats.ConnTagInfo{})
	var ran []string
	_, ok1 := OnConnEnd(ctx, func() { ran = append(ran, "kept") })
	cancel, ok2 := OnConnEnd(ctx, func() { ran = append(ran, "cancelled") })
	if !ok1 || !ok2 {
		t.Fatal("not registered on a live connection")
	}
	cancel()
	h.HandleConn(ctx, &stats.ConnBegin{})
	if len(ran) != 0 {
		t.Fatalf("ran %v before the connection's end", ran)
	}
	h.HandleConn(ctx, &stats.ConnEnd{})
	if len(ran) != 1 || ran[0] != "kept" {
		t.Fatalf("ran %v at the connection's end, want [kept]", ran)
	}
	if _, ok := OnConnEnd(ctx, func() { ran = append(ran, "late") }); ok {
		t.Fatal("registered on an ended connection")
	}
	h.HandleConn(ctx, &stats.ConnEnd{})
	if len(ran) != 1 {
		t.Fatalf("ran %v", ran)
	}
}

func TestLastRequest(t *testing.T) {
	var got []any
	var order []string
	h := StatsHandler{LastRequest: func(req any) { got = append(got, req); order = append(order, "last") }}
	ctx := h.TagRPC(context.Background(), &stats.RPCTagInfo{})
	first, second := new(int), new(int)
	h.HandleRPC(ctx, &stats.InPayload{Payload: first})
	h.HandleRPC(ctx, &stats.InPayload{Payload: second})
	OnFinish(ctx, func() { order = append(order, "finisher") })
	if len(got) != 0 {
		t.Fatal("LastRequest called before the RPC's end")
	}
	h.HandleRPC(ctx, &stats.End{})
	if len(got) != 1 || got[0] != second {
		t.Fatalf("LastRequest got %v, want the second message only", got)
	}
	if len(order) != 2 || order[0] != "finisher" {
		t.Fatalf("ran %v, want the finishers first", order)
	}
	h.HandleRPC(ctx, &stats.End{})
	if len(got) != 1 {
		t.Fatal("LastRequest called twice")
	}
	none := h.TagRPC(context.Background(), &stats.RPCTagInfo{})
	h.HandleRPC(none, &stats.End{})
	if len(got) != 1 {
		t.Fatal("LastRequest called for an RPC that received nothing")
	}
}
