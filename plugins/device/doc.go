// Package device is the contract between the ovms core and a device plugin:
// the Device interface plugin authors implement, the go-plugin glue that
// serves it over gRPC in the plugin process, and the Client the core uses.
// Tensor bytes never cross gRPC: requests carry TensorRefs into the
// shared-memory arena of package shm.
package device
