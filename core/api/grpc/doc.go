// Package grpcapi holds the tests that exercise the TF Serving and KServe
// gRPC services together over an in-memory connection; the services live in
// the tfs and kserve subpackages and the server wiring in core/server.
package grpcapi
