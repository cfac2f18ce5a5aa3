// Package protocompat holds no code of its own: its tests check that the Go
// packages generated from the .proto files under proto/ are wire compatible
// with TensorFlow Serving and KServe v2 (Open Inference Protocol) clients.
//
// The .proto files are written for ovms rather than copied, so these tests pin
// the facts that compatibility rests on: gRPC method paths, the full message
// names that appear in google.protobuf.Any type URLs, field numbers, wire
// types and packed encodings, and the decoding of bytes built by hand the way
// a peer would encode them.
package protocompat
