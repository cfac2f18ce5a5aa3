package irmodel

import (
	"fmt"
	"strings"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// ElementType is an IR element type, as written in element_type attributes
// ("f32", "u4", "boolean", ...).
type ElementType string

// The element types IR v10 and v11 write.
const (
	Dynamic ElementType = "dynamic"
	F64     ElementType = "f64"
	F32     ElementType = "f32"
	F16     ElementType = "f16"
	BF16    ElementType = "bf16"
	I64     ElementType = "i64"
	I32     ElementType = "i32"
	I16     ElementType = "i16"
	I8      ElementType = "i8"
	I4      ElementType = "i4"
	U64     ElementType = "u64"
	U32     ElementType = "u32"
	U16     ElementType = "u16"
	U8      ElementType = "u8"
	U4      ElementType = "u4"
	U1      ElementType = "u1"
	Boolean ElementType = "boolean"
	String  ElementType = "string"
)

// typeInfo is what one element type means: its size in bits (0 for
// strings), its ONNX type (what a translated tensor holds: sub-byte types
// widen to 8 bits), and its port precision spelling.
type typeInfo struct {
	bits      int
	onnx      onnxmodel.DataType
	precision string
}

var types = map[ElementType]typeInfo{
	F64:     {64, onnxmodel.Float64, "FP64"},
	F32:     {32, onnxmodel.Float32, "FP32"},
	F16:     {16, onnxmodel.Float16, "FP16"},
	BF16:    {16, onnxmodel.BFloat16, "BF16"},
	I64:     {64, onnxmodel.Int64, "I64"},
	I32:     {32, onnxmodel.Int32, "I32"},
	I16:     {16, onnxmodel.Int16, "I16"},
	I8:      {8, onnxmodel.Int8, "I8"},
	I4:      {4, onnxmodel.Int8, "I4"},
	U64:     {64, onnxmodel.Uint64, "U64"},
	U32:     {32, onnxmodel.Uint32, "U32"},
	U16:     {16, onnxmodel.Uint16, "U16"},
	U8:      {8, onnxmodel.Uint8, "U8"},
	U4:      {4, onnxmodel.Uint8, "U4"},
	U1:      {1, onnxmodel.Uint8, "BIN"},
	Boolean: {8, onnxmodel.Bool, "BOOL"},
	String:  {0, onnxmodel.String, "STRING"},
}

// byPrecision maps port precisions (FP32, I64, BOOL, ...) and their
// lower-case element type spellings to element types.
var byPrecision = func() map[string]ElementType {
	m := map[string]ElementType{"U1": U1, "BOOLEAN": Boolean, "UNSPECIFIED": Dynamic, "DYNAMIC": Dynamic, "UNDEFINED": Dynamic}
	for t, info := range types {
		m[info.precision] = t
		m[strings.ToUpper(string(t))] = t
	}
	return m
}()

// ParseElementType reads an element_type attribute or a port precision,
// in either spelling ("f32" or "FP32").
func ParseElementType(s string) (ElementType, error) {
	if t, ok := byPrecision[strings.ToUpper(strings.TrimSpace(s))]; ok {
		return t, nil
	}
	return "", fmt.Errorf("unknown element type %q", s)
}

// Bits is the size of one element in bits; 0 for strings and dynamic.
func (t ElementType) Bits() int { return types[t].bits }

// ONNX is the ONNX element type a tensor of t becomes; sub-byte types
// (u1, u4, i4) become 8-bit types, unpacked. Undefined for dynamic.
func (t ElementType) ONNX() onnxmodel.DataType { return types[t].onnx }

// Precision is the port precision spelling of t ("FP32").
func (t ElementType) Precision() string { return types[t].precision }

// ByteLen is the number of bytes n packed elements of t take in the .bin
// (sub-byte types pack two or eight per byte, rounded up); -1 for strings.
func (t ElementType) ByteLen(n int64) int64 {
	b := int64(t.Bits())
	if b == 0 {
		return -1
	}
	if n > (1<<62)/b {
		return -1
	}
	return (n*b + 7) / 8
}
