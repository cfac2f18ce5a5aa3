package grpcapi

import "google.golang.org/grpc"

// FlowStreamWindowBytes is the HTTP/2 flow-control window of every stream
// of ovms's gRPC server. It bounds the bytes a client can send on a stream
// ahead of what the server has read: the requests a ModelStreamInfer client
// pipelines while an earlier one runs. A unary message larger than it still
// arrives in one go: when gRPC starts reading a message it grants the
// stream a window of the message's whole size.
const FlowStreamWindowBytes = 1 << 20

// FlowConnWindowBytes is the flow-control window of every connection: the
// largest window gRPC's own dynamic sizing would reach (its bandwidth-delay
// estimator stops at 16 MiB). gRPC credits the connection's window as
// bytes arrive, read or not, so it limits bytes in flight, not memory.
const FlowConnWindowBytes = 16 << 20

// FlowControl returns the server options that fix the flow-control windows
// at FlowStreamWindowBytes and FlowConnWindowBytes from a connection's
// first byte. Fixed windows turn gRPC's bandwidth-delay estimation off:
// with it on, the server answers the first DATA frame of every request
// that finds no probe in flight (with one client, every small request)
// with a WINDOW_UPDATE and a PING of its own, one more write and one more
// read per request where a small request's whole round trip is 150-200 us
// on a 2-vCPU machine (docs/performance.md, "Sixteenth session on issue
// 16").
func FlowControl() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.StaticStreamWindowSize(FlowStreamWindowBytes), grpc.StaticConnWindowSize(FlowConnWindowBytes)}
}
