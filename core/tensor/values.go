package tensor

import (
	"encoding/binary"
	"fmt"
	"github.com/ovmsgo/ovms/core/tensor/f16"
	"math"

	"github.com/ovmsgo/ovms/plugins/device"
)

// Values is a typed value container decoded from a request (protobuf typed
// fields, JSON numbers). Put converts the values to the model's element type
// while writing them straight into the destination (the arena).
type Values interface {
	// Len is the number of values.
	Len() int
	// Put writes the values as dt into dst, which holds exactly
	// Len()*dt.Size() bytes.
	Put(dst []byte, dt DataType) error
}

type number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Numbers is a Values of any Go numeric type. Conversion to the target type
// is a plain cast, as in OVMS (no range check); integer targets go through
// int64 so that out-of-range values wrap the same way on every platform.
type Numbers[T number] []T

// Len is the number of values.
func (n Numbers[T]) Len() int { return len(n) }

// Put writes the values as dt.
func (n Numbers[T]) Put(dst []byte, dt DataType) error { return putNumbers(dst, []T(n), dt) }

// Bools is a Values of booleans.
type Bools []bool

// Len is the number of values.
func (b Bools) Len() int { return len(b) }

// Put writes the values as dt (true = 1).
func (b Bools) Put(dst []byte, dt DataType) error {
	u := make(Numbers[uint8], len(b)) // small: bool tensors come from typed fields
	for i, v := range b {
		if v {
			u[i] = 1
		}
	}
	return putNumbers(dst, []uint8(u), dt)
}

// HalfBits is a Values of raw 16-bit patterns (TFS half_val, which carries
// float16 and bfloat16 bits in int32 fields).
type HalfBits []int32

// Len is the number of values.
func (h HalfBits) Len() int { return len(h) }

// Put writes the bit patterns for a 16-bit dt.
func (h HalfBits) Put(dst []byte, dt DataType) error {
	if dt.Size() != 2 {
		return fmt.Errorf("half_val values cannot fill a %s tensor", dt)
	}
	for i, v := range h {
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(v))
	}
	return nil
}

func putNumbers[T number](dst []byte, src []T, dt DataType) error {
	le := binary.LittleEndian
	switch dt {
	case device.Float32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(float32(v)))
		}
	case device.Float64:
		for i, v := range src {
			le.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
	case device.Int8:
		for i, v := range src {
			dst[i] = byte(int64(v))
		}
	case device.Uint8, device.Bool:
		for i, v := range src {
			dst[i] = byte(int64(v))
		}
	case device.Int16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], uint16(int64(v)))
		}
	case device.Uint16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], uint16(int64(v)))
		}
	case device.Int32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], uint32(int64(v)))
		}
	case device.Uint32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], uint32(int64(v)))
		}
	case device.Int64:
		for i, v := range src {
			le.PutUint64(dst[8*i:], uint64(int64(v)))
		}
	case device.Uint64:
		for i, v := range src {
			le.PutUint64(dst[8*i:], uint64(v))
		}
	case device.Float16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], f16.Float32ToHalf(float32(v)))
		}
	case device.BFloat16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], f16.Float32ToBFloat16(float32(v)))
		}
	default:
		return fmt.Errorf("numbers cannot fill a %s tensor", dt)
	}
	return nil
}

// Broadcast is one value repeated N times (TF Serving's single-value
// shorthand: a typed field with one value fills the whole shape).
type Broadcast struct {
	// One holds exactly one value.
	One Values
	// N is the number of elements.
	N int
}

// Len is N.
func (b Broadcast) Len() int { return b.N }

// Put writes the value as dt, then copies it over the rest of dst.
func (b Broadcast) Put(dst []byte, dt DataType) error {
	size := dt.Size()
	if b.N == 0 || size == 0 {
		return nil
	}
	if err := b.One.Put(dst[:size], dt); err != nil {
		return err
	}
	for filled := size; filled < len(dst); filled *= 2 {
		copy(dst[filled:], dst[:filled])
	}
	return nil
}
