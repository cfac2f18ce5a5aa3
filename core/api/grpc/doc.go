// Package grpcapi holds the gRPC transport settings that ovms's server, the
// bench suite's echo server and the ovms bench client share (FlowControl
// and its window sizes), and the tests that
// exercise the TF Serving and KServe gRPC services together over an
// in-memory connection; the services live in the tfs and kserve subpackages
// and the server wiring in core/server.
package grpcapi
