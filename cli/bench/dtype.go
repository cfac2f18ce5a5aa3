package bench

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
)

// dtype describes one KServe datatype: its element size (0 for BYTES) and
// its TF Serving counterpart.
type dtype struct {
	name string
	size int
	tfs  fw.DataType
}

var dtypes = []dtype{
	{"BOOL", 1, fw.DataType_DT_BOOL},
	{"UINT8", 1, fw.DataType_DT_UINT8},
	{"UINT16", 2, fw.DataType_DT_UINT16},
	{"UINT32", 4, fw.DataType_DT_UINT32},
	{"UINT64", 8, fw.DataType_DT_UINT64},
	{"INT8", 1, fw.DataType_DT_INT8},
	{"INT16", 2, fw.DataType_DT_INT16},
	{"INT32", 4, fw.DataType_DT_INT32},
	{"INT64", 8, fw.DataType_DT_INT64},
	{"FP16", 2, fw.DataType_DT_HALF},
	{"FP32", 4, fw.DataType_DT_FLOAT},
	{"FP64", 8, fw.DataType_DT_DOUBLE},
	{"BF16", 2, fw.DataType_DT_BFLOAT16},
	{"BYTES", 0, fw.DataType_DT_STRING},
}

// lookupDType finds a datatype by its KServe name.
func lookupDType(name string) (dtype, error) {
	for _, d := range dtypes {
		if d.name == name {
			return d, nil
		}
	}
	return dtype{}, fmt.Errorf("unsupported datatype %q", name)
}

// fromTFS maps a TF Serving dtype to its KServe datatype.
func fromTFS(t fw.DataType) (dtype, error) {
	for _, d := range dtypes {
		if d.tfs == t {
			return d, nil
		}
	}
	return dtype{}, fmt.Errorf("unsupported TF Serving dtype %s", t)
}

// randomElement writes one random element of d at b: floats uniform in
// [0,1), integers in [0,100) (valid for every integer type), booleans 0/1.
func (d dtype) randomElement(rng *rand.Rand, b []byte) {
	switch d.name {
	case "BOOL":
		b[0] = byte(rng.IntN(2))
	case "FP16":
		binary.LittleEndian.PutUint16(b, float32ToHalf(rng.Float32()))
	case "BF16":
		binary.LittleEndian.PutUint16(b, uint16(math.Float32bits(rng.Float32())>>16))
	case "FP32":
		binary.LittleEndian.PutUint32(b, math.Float32bits(rng.Float32()))
	case "FP64":
		binary.LittleEndian.PutUint64(b, math.Float64bits(rng.Float64()))
	default:
		v := uint64(rng.IntN(100))
		switch d.size {
		case 1:
			b[0] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b, uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(b, uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(b, v)
		}
	}
}

// appendJSON appends the element of d at b as a JSON number (or boolean).
func (d dtype) appendJSON(dst, b []byte) []byte {
	switch d.name {
	case "BOOL":
		return strconv.AppendBool(dst, b[0] != 0)
	case "UINT8":
		return strconv.AppendUint(dst, uint64(b[0]), 10)
	case "UINT16":
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(b)), 10)
	case "UINT32":
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
	case "UINT64":
		return strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
	case "INT8":
		return strconv.AppendInt(dst, int64(int8(b[0])), 10)
	case "INT16":
		return strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10)
	case "INT32":
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10)
	case "INT64":
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(b)), 10)
	case "FP16":
		return appendFloat(dst, float64(halfToFloat32(binary.LittleEndian.Uint16(b))), 32)
	case "BF16":
		return appendFloat(dst, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b))<<16)), 32)
	case "FP32":
		return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
	default: // FP64
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
	}
}

// appendFloat writes the shortest representation that reads back exactly;
// JSON has no NaN or infinities, so those become 0.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// putNumber stores the JSON number v as one element of d at b.
func (d dtype) putNumber(b []byte, v float64) error {
	switch d.name {
	case "BOOL":
		b[0] = 0
		if v != 0 {
			b[0] = 1
		}
	case "FP16":
		binary.LittleEndian.PutUint16(b, float32ToHalf(float32(v)))
	case "BF16":
		binary.LittleEndian.PutUint16(b, uint16(math.Float32bits(float32(v))>>16))
	case "FP32":
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
	case "FP64":
		binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	default:
		if v != math.Trunc(v) {
			return fmt.Errorf("%v is not an integer for %s", v, d.name)
		}
		switch d.size {
		case 1:
			b[0] = byte(int64(v))
		case 2:
			binary.LittleEndian.PutUint16(b, uint16(int64(v)))
		case 4:
			binary.LittleEndian.PutUint32(b, uint32(int64(v)))
		case 8:
			if d.name == "UINT64" && v >= math.MaxInt64 {
				binary.LittleEndian.PutUint64(b, uint64(v))
			} else {
				binary.LittleEndian.PutUint64(b, uint64(int64(v)))
			}
		}
	}
	return nil
}

// halfToFloat32 converts IEEE 754 binary16 bits to a float32.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = frac * 2^-24
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// float32ToHalf converts a float32 to binary16 bits, rounding to nearest
// even; out-of-range values become infinities.
func float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23&0xff) - 127 + 15
	frac := bits & 0x7fffff
	switch {
	case bits&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 0x1f: // overflow or infinity
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		frac |= 0x800000
		shift := uint32(14 - exp)
		half := frac >> shift
		rem := frac & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is correct
	}
	return sign | uint16(half)
}
