package onnxmodel

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// DataType is an ONNX tensor element type; the values follow the numbering
// of onnx.TensorProto.DataType.
type DataType int32

// Element types, numbered as in onnx.TensorProto.DataType.
const (
	Undefined  DataType = 0  // UNDEFINED
	Float32    DataType = 1  // FLOAT
	Uint8      DataType = 2  // UINT8
	Int8       DataType = 3  // INT8
	Uint16     DataType = 4  // UINT16
	Int16      DataType = 5  // INT16
	Int32      DataType = 6  // INT32
	Int64      DataType = 7  // INT64
	String     DataType = 8  // STRING
	Bool       DataType = 9  // BOOL
	Float16    DataType = 10 // FLOAT16
	Float64    DataType = 11 // DOUBLE
	Uint32     DataType = 12 // UINT32
	Uint64     DataType = 13 // UINT64
	Complex64  DataType = 14 // COMPLEX64
	Complex128 DataType = 15 // COMPLEX128
	BFloat16   DataType = 16 // BFLOAT16
)

// String returns the ONNX name of the type, such as "FLOAT" or "UINT8".
func (t DataType) String() string {
	if s, ok := onnxpb.TensorProto_DataType_name[int32(t)]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// Size returns the size in bytes of one element, or 0 for types without a
// fixed size (UNDEFINED, STRING and unknown values).
func (t DataType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Int64, Uint64, Float64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// Value names a tensor in a graph: a graph input, an initializer or a node
// output. The zero Value stands for an omitted optional node input.
type Value struct {
	name string
}

// Name returns the tensor name the value refers to.
func (v Value) Name() string { return v.name }

// AttrInt returns an INT node attribute.
func AttrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{
		Name: proto.String(name),
		Type: onnxpb.AttributeProto_INT.Enum(),
		I:    proto.Int64(v),
	}
}

// AttrInts returns an INTS node attribute.
func AttrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{
		Name: proto.String(name),
		Type: onnxpb.AttributeProto_INTS.Enum(),
		Ints: append([]int64{}, v...),
	}
}

// AttrFloat returns a FLOAT node attribute.
func AttrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{
		Name: proto.String(name),
		Type: onnxpb.AttributeProto_FLOAT.Enum(),
		F:    proto.Float32(v),
	}
}

// AttrString returns a STRING node attribute.
func AttrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{
		Name: proto.String(name),
		Type: onnxpb.AttributeProto_STRING.Enum(),
		S:    []byte(v),
	}
}

// AttrTensor returns a TENSOR node attribute, as used by the Constant op.
func AttrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{
		Name: proto.String(name),
		Type: onnxpb.AttributeProto_TENSOR.Enum(),
		T:    t,
	}
}

// tensorType returns a tensor TypeProto; dims of -1 become dim_param
// "<prefix>_d<i>", and nil dims give a rank-0 (scalar) shape.
func tensorType(t DataType, prefix string, dims []int64) (*onnxpb.TypeProto, error) {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{}}
	for i, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case d >= 0:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		case d == -1:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: fmt.Sprintf("%s_d%d", prefix, i)}
		default:
			return nil, fmt.Errorf("dimension %d of %q is %d: want -1 (dynamic) or >= 0", i, prefix, d)
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(t)),
		Shape:    shape,
	}}}, nil
}
