package customnode

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ovmsgo/ovms/plugins/device"
)

// BinaryPrefix is the file name prefix of custom node library programs:
// ovms-node-<name>.
const BinaryPrefix = "ovms-node-"

// Node is one pipeline node of a library: a library instance with its
// params. Inputs and Outputs are OVMS's getInputsInfo and getOutputsInfo,
// asked once when the node is loaded; Execute runs one request and may be
// called concurrently.
type Node interface {
	// Inputs describes the inputs the node takes (-1: dynamic dimension).
	Inputs() []TensorInfo
	// Outputs describes the outputs the node produces.
	Outputs() []TensorInfo
	// Execute reads the inputs of c and writes every output (see In, Out).
	Execute(ctx context.Context, c *Call) error
}

// Factory builds a Node for one pipeline node's params (OVMS's
// initialize). A Node that implements io.Closer is closed when the node is
// unloaded (deinitialize), once no Execute runs on it.
type Factory func(p Params) (Node, error)

// TensorInfo describes one input or output: name, type, dimensions.
type TensorInfo = device.TensorInfo

// DataType is a tensor element type.
type DataType = device.DataType

// The element types of OVMS's custom node interface (plus the others a
// device knows).
const (
	FP32 = device.Float32
	FP64 = device.Float64
	FP16 = device.Float16
	U8   = device.Uint8
	I8   = device.Int8
	U16  = device.Uint16
	I16  = device.Int16
	I32  = device.Int32
	I64  = device.Int64
)

// Tensor describes a tensor: Tensor("image", FP32, 1, 3, -1, -1).
func Tensor(name string, dtype DataType, dims ...int64) TensorInfo {
	return TensorInfo{Name: name, DType: dtype, Shape: append([]int64{}, dims...)}
}

// Params are a node's params from the pipeline config (strings, as in
// OVMS). The getters return the default for a missing key and an error
// naming the key for a malformed value.
type Params map[string]string

// String returns the value of key, or def.
func (p Params) String(key, def string) string {
	if v, ok := p[key]; ok {
		return v
	}
	return def
}

// Int returns the value of key as an integer, or def.
func (p Params) Int(key string, def int) (int, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("param %s: %q is not an integer", key, v)
	}
	return n, nil
}

// Float returns the value of key as a number, or def.
func (p Params) Float(key string, def float64) (float64, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, fmt.Errorf("param %s: %q is not a number", key, v)
	}
	return f, nil
}
