package rest

import (
	"math"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// numSink collects JSON numbers converted to one element type within its
// gate; its Values are what the request carries to the arena.
type numSink interface {
	// add adds one number; false: the request budget is spent (the
	// gate's err).
	add(n rjson.Number) bool
	// addRun adds the numbers from the cursor up to the first element
	// that is not a number (done false) or the end of the array (done
	// true, the ']' consumed), and returns how many it read (kept, or
	// counted past the input's cap); ok false: the budget is spent.
	addRun(c *rjson.Cursor) (n int, done, ok bool)
	values() tensor.Values
	gate() *gate
}

type elem interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// sink appends values converted by conv; read reads a run of numbers
// with the same conversion.
type sink[T elem] struct {
	v    []T
	conv func(rjson.Number) T
	read reader[T]
	g    *gate
}

func (s *sink[T]) add(n rjson.Number) bool { return push(&s.v, s.conv(n), s.g) }

func (s *sink[T]) addRun(c *rjson.Cursor) (int, bool, bool) {
	return readRun(c, &s.v, s.g, s.read)
}

func (s *sink[T]) values() tensor.Values { return tensor.Numbers[T](s.v) }

func (s *sink[T]) gate() *gate { return s.g }

// newSink sizes the gate for T; hint sizes the first buffer.
func newSink[T elem](g *gate, hint int, conv func(rjson.Number) T, read reader[T]) numSink {
	g.size, g.hint = sizeOf[T](), hint
	return &sink[T]{conv: conv, read: read, g: g}
}

// intSink is a sink for integer elements that reads runs of numbers with
// rjson.AppendIntsMax (conv must be T(v) for integers v of up to 7 digits).
func intSink[T rjson.Integer](g *gate, conv func(rjson.Number) T, hint int) numSink {
	ok := func(n rjson.Number) (T, bool) { return conv(n), true }
	return newSink(g, hint, conv, ints(false, ok))
}

// floatSink is a sink for float elements that reads runs of numbers with
// rjson.AppendFloatsMax (conv must agree with T(n.Float64()) on the
// numbers that AppendFloats converts itself).
func floatSink[T rjson.Float](g *gate, conv func(rjson.Number) T, hint int) numSink {
	return newSink(g, hint, conv, floats(conv))
}

// castSink returns a sink for dt that converts numbers as OVMS's TFS REST
// parser does: static_cast<T> of GetDouble() for doubles, of GetInt64()
// or GetUint64() for integers (no range check; out-of-range doubles give
// what x86-64 gives). FP16 and BF16 keep float32 values that the arena
// write converts (OVMS stores the truncated integer as raw half bits).
// Types without a numeric cast return nil. hint sizes the values; g
// bounds them.
func castSink(dt tensor.DataType, hint int, g *gate) numSink {
	switch dt {
	case device.Float32, device.Float16, device.BFloat16:
		// For integers up to 2^53 and exactly read decimals,
		// castFloat32 is float32(n.Float64()).
		return floatSink(g, castFloat32, hint)
	case device.Float64:
		return floatSink(g, asFloat, hint)
	case device.Int8:
		return intSink(g, func(n rjson.Number) int8 { return int8(castNarrow(n)) }, hint)
	case device.Uint8:
		return intSink(g, func(n rjson.Number) uint8 { return uint8(castNarrow(n)) }, hint)
	case device.Int16:
		return intSink(g, func(n rjson.Number) int16 { return int16(castNarrow(n)) }, hint)
	case device.Uint16:
		return intSink(g, func(n rjson.Number) uint16 { return uint16(castNarrow(n)) }, hint)
	case device.Int32:
		return intSink(g, castNarrow, hint)
	case device.Uint32:
		return intSink(g, func(n rjson.Number) uint32 { return uint32(castWide(n)) }, hint)
	case device.Int64:
		return intSink(g, func(n rjson.Number) int64 { return int64(castWide(n)) }, hint)
	case device.Uint64:
		return intSink(g, castUint64, hint)
	}
	return nil
}

// asFloat is GetDouble (integers convert with rounding).
func asFloat(n rjson.Number) float64 { return n.Float64() }

// castFloat32 is static_cast<float> of GetDouble, GetInt64 or GetUint64.
func castFloat32(n rjson.Number) float32 {
	switch {
	case n.IsDouble():
		return float32(n.Float64())
	case n.IsInt64():
		return float32(n.Int64())
	}
	return float32(n.Uint64())
}

// castNarrow converts to int32 for targets of 32 bits or less that are
// not uint32: doubles through cvttsd2si (0x80000000 when out of range),
// integers by truncation.
func castNarrow(n rjson.Number) int32 {
	if n.IsDouble() {
		d := n.Float64()
		if !(d > -2147483649.0 && d < 2147483648.0) {
			return math.MinInt32
		}
		return int32(d)
	}
	return int32(n.Int64())
}

// castWide converts to 64 bits for uint32 and int64 targets.
func castWide(n rjson.Number) uint64 {
	if n.IsDouble() {
		return uint64(f2i64(n.Float64()))
	}
	return uint64(n.Int64())
}

func castUint64(n rjson.Number) uint64 {
	if !n.IsDouble() {
		return uint64(n.Int64())
	}
	d := n.Float64()
	if d >= 9223372036854775808.0 {
		return uint64(f2i64(d-9223372036854775808.0)) ^ (1 << 63)
	}
	return uint64(f2i64(d))
}

// f2i64 is cvttsd2si with a 64-bit destination.
func f2i64(d float64) int64 {
	if !(d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
		return math.MinInt64
	}
	return int64(d)
}
