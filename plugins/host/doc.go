// Package host is the ovms core's side of the device plugin protocol, and
// the serving glue plugins.ServeDevice runs in a plugin process: the Client
// the core calls a plugin through, the go-plugin Plugin and Handshake, the
// gRPC server that wraps a device.Device, the output leases, and the
// shared-memory arena's creation. Plugin authors never import it: they
// implement device.Device and call plugins.ServeDevice.
package host

import "github.com/ovmsgo/ovms/plugins/device"

// The contract's types, under the names this package's code uses.
type (
	// Device is device.Device.
	Device = device.Device
	// Info is device.Info.
	Info = device.Info
	// ModelKey is device.ModelKey.
	ModelKey = device.ModelKey
	// LoadRequest is device.LoadRequest.
	LoadRequest = device.LoadRequest
	// ModelFile is device.ModelFile.
	ModelFile = device.ModelFile
	// ModelInfo is device.ModelInfo.
	ModelInfo = device.ModelInfo
	// TensorInfo is device.TensorInfo.
	TensorInfo = device.TensorInfo
	// TensorRef is device.TensorRef.
	TensorRef = device.TensorRef
	// InferRequest is device.InferRequest.
	InferRequest = device.InferRequest
	// InferResponse is device.InferResponse.
	InferResponse = device.InferResponse
	// DataType is device.DataType.
	DataType = device.DataType
)
