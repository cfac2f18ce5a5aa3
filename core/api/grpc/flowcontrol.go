package grpcapi

import "google.golang.org/grpc"

// FlowWindowBytes is the HTTP/2 flow-control window that ovms's gRPC
// server gives every connection and every stream from the first byte: the
// largest window gRPC's own dynamic sizing would reach (its bandwidth-delay
// estimator grows the windows up to 16 MiB on a fast link).
const FlowWindowBytes = 16 << 20

// FlowControl returns the server options that fix the flow-control windows
// at FlowWindowBytes. A fixed window turns gRPC's bandwidth-delay estimation
// off: with it on, the server answers the first DATA frame of every request
// that finds no estimate in flight (with one client, every request) with a
// WINDOW_UPDATE and a PING of its own, one more write and one more read per
// request on a path where a small request's whole round trip is about 120
// us (docs/performance.md, "Sixteenth session on issue 16"). A message is
// received whole before a handler sees it whatever the window, so the
// window bounds no memory that the message limits do not.
func FlowControl() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.StaticStreamWindowSize(FlowWindowBytes), grpc.StaticConnWindowSize(FlowWindowBytes)}
}
