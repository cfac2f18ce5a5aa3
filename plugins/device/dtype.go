package device

import "fmt"

// DataType is a tensor element type. The numbers equal ONNX
// TensorProto.DataType and ONNX Runtime's element types.
type DataType int32

// The element types a device may accept or produce.
const (
	Invalid  DataType = 0
	Float32  DataType = 1
	Uint8    DataType = 2
	Int8     DataType = 3
	Uint16   DataType = 4
	Int16    DataType = 5
	Int32    DataType = 6
	Int64    DataType = 7
	String   DataType = 8
	Bool     DataType = 9
	Float16  DataType = 10
	Float64  DataType = 11
	Uint32   DataType = 12
	Uint64   DataType = 13
	BFloat16 DataType = 16
)

var dtypeInfo = map[DataType]struct {
	name string
	size int
}{
	Float32: {"float32", 4}, Uint8: {"uint8", 1}, Int8: {"int8", 1}, Uint16: {"uint16", 2},
	Int16: {"int16", 2}, Int32: {"int32", 4}, Int64: {"int64", 8}, String: {"string", 0},
	Bool: {"bool", 1}, Float16: {"float16", 2}, Float64: {"float64", 8}, Uint32: {"uint32", 4},
	Uint64: {"uint64", 8}, BFloat16: {"bfloat16", 2},
}

// Size is the size of one element in bytes; 0 for String and unknown types.
func (d DataType) Size() int { return dtypeInfo[d].size }

// Valid reports whether d is one of the supported element types.
func (d DataType) Valid() bool { _, ok := dtypeInfo[d]; return ok }

// String is the lowercase Go-style name, e.g. "float32".
func (d DataType) String() string {
	if i, ok := dtypeInfo[d]; ok {
		return i.name
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}
