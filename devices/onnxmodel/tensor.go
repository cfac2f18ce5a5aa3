package onnxmodel

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// numElements returns the product of shape, 1 for a scalar.
func numElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

func rawTensor(name string, t DataType, shape []int64, raw []byte) *onnxpb.TensorProto {
	tp := &onnxpb.TensorProto{
		Dims:     append([]int64{}, shape...),
		DataType: proto.Int32(int32(t)),
		RawData:  raw,
	}
	if name != "" {
		tp.Name = proto.String(name)
	}
	return tp
}

// Float32Tensor returns a FLOAT tensor holding data as little-endian
// raw_data. A nil or empty shape is a scalar.
func Float32Tensor(name string, shape []int64, data []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return rawTensor(name, Float32, shape, raw)
}

// Int64Tensor returns an INT64 tensor holding data as little-endian
// raw_data, as needed for shape arguments (Reshape, Expand).
func Int64Tensor(name string, shape []int64, data []int64) *onnxpb.TensorProto {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return rawTensor(name, Int64, shape, raw)
}

// Uint8Tensor returns a UINT8 tensor holding data as raw_data.
func Uint8Tensor(name string, shape []int64, data []uint8) *onnxpb.TensorProto {
	return rawTensor(name, Uint8, shape, append([]byte{}, data...))
}

// UniformFloat32Tensor returns a FLOAT tensor of the given shape filled with
// values drawn uniformly from [-limit, limit) by a generator seeded with
// seed. The values depend only on the arguments, on every platform and Go
// version.
func UniformFloat32Tensor(name string, shape []int64, seed uint64, limit float32) *onnxpb.TensorProto {
	n := numElements(shape)
	raw := make([]byte, 4*n)
	state := seed
	for i := int64(0); i < n; i++ {
		// splitmix64, then the top 24 bits as a float in [0, 1).
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		u := float32(z>>40) / (1 << 24)
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits((2*u-1)*limit))
	}
	return rawTensor(name, Float32, shape, raw)
}

// RandomFloat32Tensor returns a deterministic FLOAT weight tensor scaled for
// a layer followed by Relu (He-uniform): values in ±sqrt(6/fanIn), where
// fanIn is the product of shape[1:] (the input channels times the kernel
// size for a Conv weight [M, C, kH, kW]), so the weights have variance
// 2/fanIn.
func RandomFloat32Tensor(name string, shape []int64, seed uint64) *onnxpb.TensorProto {
	fanIn := int64(1)
	if len(shape) > 1 {
		fanIn = numElements(shape[1:])
	}
	if fanIn < 1 {
		fanIn = 1
	}
	return UniformFloat32Tensor(name, shape, seed, float32(math.Sqrt(6/float64(fanIn))))
}

// checkTensor reports a tensor whose raw_data length does not match its
// dims and element type.
func checkTensor(t *onnxpb.TensorProto) error {
	for i, d := range t.GetDims() {
		if d < 0 {
			return fmt.Errorf("dimension %d is %d", i, d)
		}
	}
	dt := DataType(t.GetDataType())
	if dt == Undefined {
		return fmt.Errorf("data type is not set")
	}
	if t.RawData == nil || dt.Size() == 0 {
		return nil
	}
	if want := numElements(t.GetDims()) * int64(dt.Size()); int64(len(t.RawData)) != want {
		return fmt.Errorf("raw_data has %d bytes, want %d for %s %v", len(t.RawData), want, dt, t.GetDims())
	}
	return nil
}

// RawTensor returns a tensor of type t and shape holding raw as its
// little-endian raw_data, without copying raw: the tensor shares it.
func RawTensor(name string, t DataType, shape []int64, raw []byte) *onnxpb.TensorProto {
	return rawTensor(name, t, shape, raw)
}
