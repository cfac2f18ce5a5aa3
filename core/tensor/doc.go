// Package tensor holds the core's view of request and response tensors: data
// type names of every API, shapes, typed value containers, validation of a
// request against a model's metadata (with OVMS's error messages), and the
// writers that place request data straight into a plugin's shared-memory
// arena.
package tensor
