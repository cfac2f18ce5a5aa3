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
