package onnxruntime

import "fmt"

// ElementType is a tensor element type. The numbers are ONNX's
// TensorProto.DataType, which ONNX Runtime's ONNXTensorElementDataType
// shares (ortabi.h checks that against ONNX Runtime's header).
type ElementType int32

// The element types.
const (
	Undefined      ElementType = 0
	Float32        ElementType = 1  // FLOAT
	Uint8          ElementType = 2  // UINT8
	Int8           ElementType = 3  // INT8
	Uint16         ElementType = 4  // UINT16
	Int16          ElementType = 5  // INT16
	Int32          ElementType = 6  // INT32
	Int64          ElementType = 7  // INT64
	String         ElementType = 8  // STRING: variable-length byte strings
	Bool           ElementType = 9  // BOOL: one byte, 0 or 1
	Float16        ElementType = 10 // FLOAT16: IEEE 754 half precision
	Float64        ElementType = 11 // DOUBLE
	Uint32         ElementType = 12 // UINT32
	Uint64         ElementType = 13 // UINT64
	Complex64      ElementType = 14 // COMPLEX64: two float32
	Complex128     ElementType = 15 // COMPLEX128: two float64
	BFloat16       ElementType = 16 // BFLOAT16: the upper half of a float32
	Float8E4M3FN   ElementType = 17 // FLOAT8E4M3FN
	Float8E4M3FNUZ ElementType = 18 // FLOAT8E4M3FNUZ
	Float8E5M2     ElementType = 19 // FLOAT8E5M2
	Float8E5M2FNUZ ElementType = 20 // FLOAT8E5M2FNUZ
	Uint4          ElementType = 21 // UINT4: two per byte, low nibble first
	Int4           ElementType = 22 // INT4: two per byte, low nibble first
)

var elementInfo = [...]struct {
	name string
	size int
}{
	Undefined: {"undefined", 0}, Float32: {"float32", 4}, Uint8: {"uint8", 1}, Int8: {"int8", 1},
	Uint16: {"uint16", 2}, Int16: {"int16", 2}, Int32: {"int32", 4}, Int64: {"int64", 8},
	String: {"string", 0}, Bool: {"bool", 1}, Float16: {"float16", 2}, Float64: {"float64", 8},
	Uint32: {"uint32", 4}, Uint64: {"uint64", 8}, Complex64: {"complex64", 8},
	Complex128: {"complex128", 16}, BFloat16: {"bfloat16", 2}, Float8E4M3FN: {"float8e4m3fn", 1},
	Float8E4M3FNUZ: {"float8e4m3fnuz", 1}, Float8E5M2: {"float8e5m2", 1},
	Float8E5M2FNUZ: {"float8e5m2fnuz", 1}, Uint4: {"uint4", 0}, Int4: {"int4", 0},
}

// Valid reports whether t is one of the element types above other than
// Undefined.
func (t ElementType) Valid() bool { return t > Undefined && int(t) < len(elementInfo) }

// Size returns the size of one element in bytes: 0 for String (whose
// elements vary in length), for the packed 4-bit types (see ByteLen) and for
// unknown types.
func (t ElementType) Size() int {
	if !t.Valid() {
		return 0
	}
	return elementInfo[t].size
}

// ByteLen returns the number of bytes n elements of t take in a dense
// tensor: n*Size(), or (n+1)/2 for the packed 4-bit types. It returns 0
// for String.
func (t ElementType) ByteLen(n int64) int64 {
	if t == Uint4 || t == Int4 {
		return (n + 1) / 2
	}
	return n * int64(t.Size())
}

// String returns the lower-case Go-style name, e.g. "float32", "bfloat16".
func (t ElementType) String() string {
	if t >= 0 && int(t) < len(elementInfo) {
		return elementInfo[t].name
	}
	return fmt.Sprintf("elementtype(%d)", int32(t))
}

// numElements returns the product of shape (1 for a scalar) or -1 when a
// dimension is negative or the product overflows.
func numElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > (1<<62)/d) {
			return -1
		}
		n *= d
	}
	return n
}
