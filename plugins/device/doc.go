// Package device is the contract a device plugin implements: the Device
// interface, the Env the SDK hands its factory, the request, response and
// metadata types, and the helpers that keep a device short: Env.Respond
// (inputs, outputs in the arena, frees on error), Models (loaded versions)
// and View (tensor bytes as values). Tensor bytes never cross gRPC:
// requests carry TensorRefs into the shared-memory arena of package shm.
// The core's side of the protocol (the Client, the go-plugin glue, the
// gRPC server shim and output leases) is package plugins/host, which plugin
// authors do not need. docs/device-plugins.md walks through a whole plugin.
package device
