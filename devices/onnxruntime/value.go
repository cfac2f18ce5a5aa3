package onnxruntime

/*
#include <stdlib.h>
#include <string.h>
#include "ortshim.h"

#cgo noescape ortgo_tensor_info
#cgo nocallback ortgo_tensor_info
#cgo noescape ortgo_string_content
#cgo nocallback ortgo_string_content
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"unsafe"
)

// Value is an ONNX Runtime tensor (an OrtValue). It is either wrapped
// around memory the caller owns (NewTensor), around C memory it owns
// (NewTensorCopy), or allocated by ONNX Runtime (NewStringTensor, and Run
// outputs left nil). Close releases it. A Value may be read from several
// goroutines at once (for example as an input of concurrent Runs) but Close
// must not race with any other use.
type Value struct {
	p     *C.OrtValue
	typ   ElementType
	shape []int64
	data  unsafe.Pointer // tensor bytes; nil for strings
	owned unsafe.Pointer // C memory freed by Close (NewTensorCopy)
}

var errValueClosed = errors.New("onnxruntime: value is closed")

// NewTensor wraps byteLen bytes at data as a tensor of type t and shape
// (nil or empty for a scalar) WITHOUT copying: ONNX Runtime reads inputs
// from, and writes preallocated outputs into, that memory. The memory must
// stay valid and must not move until Close: use C memory, memory mapped
// outside the Go heap (in the product, the shared-memory arena), or Go
// memory pinned with runtime.Pinner for the whole life of the Value;
// never unpinned Go memory. data may be nil when the tensor has no
// elements. byteLen must be at least t.ByteLen(elements). String tensors
// need NewStringTensor.
func NewTensor(t ElementType, shape []int64, data unsafe.Pointer, byteLen int) (*Value, error) {
	if !loaded.Load() {
		return nil, ErrNotInitialized
	}
	need, err := checkDense(t, shape)
	if err != nil {
		return nil, err
	}
	if byteLen < 0 || int64(byteLen) < need || (data == nil && need > 0) {
		return nil, fmt.Errorf("onnxruntime: new tensor %s%v: %d bytes at %p, need %d", t, shape, byteLen, data, need)
	}
	var p *C.OrtValue
	err = statusErr(C.ortgo_create_tensor(data, C.size_t(byteLen), shapePtr(shape), C.size_t(len(shape)), C.int(t), &p))
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: new tensor %s%v: %w", t, shape, err)
	}
	return &Value{p: p, typ: t, shape: slices.Clone(shape), data: data}, nil
}

// NewTensorCopy copies data into C memory owned by the Value (freed by
// Close) and wraps it as a tensor. len(data) must equal
// t.ByteLen(elements). Use it for Go-heap sources and in tests.
func NewTensorCopy(t ElementType, shape []int64, data []byte) (*Value, error) {
	need, err := checkDense(t, shape)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != need {
		return nil, fmt.Errorf("onnxruntime: new tensor %s%v: %d bytes of data, want %d", t, shape, len(data), need)
	}
	// 64-byte aligned, as the engine's kernels like their operands (the
	// shared initializers of ortdevice are such copies).
	mem := C.aligned_alloc(64, C.size_t((len(data)+64)&^63))
	if mem == nil {
		return nil, errors.New("onnxruntime: new tensor: out of memory")
	}
	copy(unsafe.Slice((*byte)(mem), len(data)), data)
	v, err := NewTensor(t, shape, mem, len(data))
	if err != nil {
		C.free(mem)
		return nil, err
	}
	v.owned = mem
	return v, nil
}

// NewZeroTensor allocates a tensor of zeros in C memory owned by the Value
// (freed by Close), for tensors that outlive a request, such as the state
// of a sequence: its Bytes stay valid and in place until Close.
func NewZeroTensor(t ElementType, shape []int64) (*Value, error) {
	need, err := checkDense(t, shape)
	if err != nil {
		return nil, err
	}
	// 64-byte aligned, as the engine's kernels like their operands.
	size := (need + 64) &^ 63
	mem := C.aligned_alloc(64, C.size_t(size))
	if mem == nil {
		return nil, errors.New("onnxruntime: new tensor: out of memory")
	}
	C.memset(mem, 0, C.size_t(size))
	v, err := NewTensor(t, shape, mem, int(need))
	if err != nil {
		C.free(mem)
		return nil, err
	}
	v.owned = mem
	return v, nil
}

func checkDense(t ElementType, shape []int64) (int64, error) {
	if t == String {
		return 0, errors.New("onnxruntime: new tensor: string tensors need NewStringTensor")
	}
	if !t.Valid() || t.Size() == 0 && t != Uint4 && t != Int4 {
		return 0, fmt.Errorf("onnxruntime: new tensor: unsupported element type %s", t)
	}
	n := numElements(shape)
	if n < 0 {
		return 0, fmt.Errorf("onnxruntime: new tensor %s: invalid shape %v", t, shape)
	}
	return t.ByteLen(n), nil
}

func shapePtr(shape []int64) *C.int64_t {
	if len(shape) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&shape[0]))
}

// NewStringTensor creates a string tensor of the given shape holding elems
// (len(elems) must equal the number of elements; one for a scalar). ONNX
// Runtime copies the strings into memory it allocates. Limit: ONNX
// Runtime's FillStringTensor takes NUL-terminated C strings, so an element
// containing a NUL byte is rejected with an error.
func NewStringTensor(shape []int64, elems [][]byte) (*Value, error) {
	if !loaded.Load() {
		return nil, ErrNotInitialized
	}
	n := numElements(shape)
	if n < 0 || n != int64(len(elems)) {
		return nil, fmt.Errorf("onnxruntime: new string tensor: shape %v does not hold %d elements", shape, len(elems))
	}
	total := 0
	for i, e := range elems {
		if bytes.IndexByte(e, 0) >= 0 {
			return nil, fmt.Errorf("onnxruntime: new string tensor: element %d contains a NUL byte, which ONNX Runtime's FillStringTensor cannot pass", i)
		}
		total += len(e) + 1
	}
	// One C block: the pointer array, then the NUL-terminated strings.
	ptrSize := int(unsafe.Sizeof((*C.char)(nil)))
	block := C.malloc(C.size_t(len(elems)*ptrSize + total + 1))
	if block == nil {
		return nil, errors.New("onnxruntime: new string tensor: out of memory")
	}
	defer C.free(block)
	ptrs := unsafe.Slice((**C.char)(block), len(elems))
	buf := unsafe.Slice((*byte)(unsafe.Add(block, len(elems)*ptrSize)), total)
	off := 0
	for i, e := range elems {
		ptrs[i] = (*C.char)(unsafe.Pointer(&buf[off]))
		off += copy(buf[off:], e)
		buf[off] = 0
		off++
	}
	var p *C.OrtValue
	err := statusErr(C.ortgo_create_string_tensor(shapePtr(shape), C.size_t(len(shape)),
		(**C.char)(block), C.size_t(len(elems)), &p))
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: new string tensor %v: %w", shape, err)
	}
	return &Value{p: p, typ: String, shape: slices.Clone(shape)}, nil
}

// valueFromORT wraps an OrtValue that ONNX Runtime allocated (a Run output).
func valueFromORT(p *C.OrtValue) (*Value, error) {
	var elem C.int
	var nd C.size_t
	var data unsafe.Pointer
	var buf [8]int64
	dims := buf[:]
	for {
		err := statusErr(C.ortgo_tensor_info(p, &elem, (*C.int64_t)(unsafe.Pointer(&dims[0])), C.size_t(len(dims)), &nd, &data))
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: output tensor info: %w", err)
		}
		if int(nd) <= len(dims) {
			break
		}
		dims = make([]int64, nd)
	}
	return &Value{p: p, typ: ElementType(elem), shape: slices.Clone(dims[:nd]), data: data}, nil
}

// Type returns the element type.
func (v *Value) Type() ElementType { return v.typ }

// Shape returns the tensor's dimensions (empty for a scalar). The slice
// belongs to the Value: do not modify it.
func (v *Value) Shape() []int64 { return v.shape }

// Bytes returns a view of the tensor's data, valid until Close: for a
// preallocated or wrapped tensor it is the caller's memory, otherwise
// memory ONNX Runtime owns. It is empty for zero elements, and nil for
// string tensors (see Strings) and closed values.
func (v *Value) Bytes() []byte {
	if v.p == nil || v.typ == String {
		return nil
	}
	n := v.typ.ByteLen(numElements(v.shape))
	if n <= 0 || v.data == nil {
		return []byte{}
	}
	return unsafe.Slice((*byte)(v.data), n)
}

// Strings returns a copy of the elements of a string tensor.
func (v *Value) Strings() ([][]byte, error) {
	if v.p == nil {
		return nil, errValueClosed
	}
	if v.typ != String {
		return nil, fmt.Errorf("onnxruntime: strings of a %s tensor", v.typ)
	}
	n := numElements(v.shape)
	if n == 0 {
		return [][]byte{}, nil
	}
	var total C.size_t
	if err := statusErr(C.ortgo_string_length(v.p, &total)); err != nil {
		return nil, fmt.Errorf("onnxruntime: string tensor length: %w", err)
	}
	buf := make([]byte, total+1)
	offsets := make([]C.size_t, n)
	err := statusErr(C.ortgo_string_content(v.p, unsafe.Pointer(&buf[0]), total, &offsets[0], C.size_t(n)))
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: string tensor content: %w", err)
	}
	out := make([][]byte, n)
	for i := range out {
		end := total
		if i+1 < len(out) {
			end = offsets[i+1]
		}
		out[i] = buf[offsets[i]:end:end]
	}
	return out, nil
}

// Close releases the value and any memory it owns. It is idempotent. The
// memory of a NewTensor value is the caller's and is not touched.
func (v *Value) Close() {
	if v.p != nil {
		C.ortgo_release_value(v.p)
		v.p = nil
	}
	if v.owned != nil {
		C.free(v.owned)
		v.owned = nil
	}
	v.data = nil
}
