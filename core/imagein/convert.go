package imagein

import (
	"encoding/binary"
	"github.com/ovmsgo/ovms/core/tensor/f16"
	"math"

	"github.com/ovmsgo/ovms/plugins/device"
)

// castCap returns the cap of the saturating cast cv::Mat::convertTo makes
// from the decoded 8- or 16-bit values to dt, and whether OVMS converts to
// dt at all (getMatTypeFromTensorPrecision: FP32, FP64, FP16, I16, U8, I8,
// U16, I32; anything else is INVALID_PRECISION).
func castCap(dt device.DataType) (uint16, bool) {
	switch dt {
	case device.Uint8:
		return math.MaxUint8, true
	case device.Int8:
		return math.MaxInt8, true
	case device.Int16:
		return math.MaxInt16, true
	case device.Uint16, device.Int32, device.Float16, device.Float32, device.Float64:
		return math.MaxUint16, true
	}
	return 0, false
}

// isIntType reports the integer types that resize in float and round.
func isIntType(dt device.DataType) bool {
	return dt == device.Int8 || dt == device.Int16 || dt == device.Uint16 || dt == device.Int32
}

// roundSat is saturate_cast from float: round to nearest even, clamp.
func roundSat(v float64, lo, hi float64) float64 {
	return min(max(math.RoundToEven(v), lo), hi)
}

// putRow writes one row of values as dt, little-endian.
func putRow[F float32 | float64](dt device.DataType, dst []byte, row []F) {
	le := binary.LittleEndian
	switch dt {
	case device.Float32:
		for i, v := range row {
			le.PutUint32(dst[4*i:], math.Float32bits(float32(v)))
		}
	case device.Float64:
		for i, v := range row {
			le.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
	case device.Float16:
		for i, v := range row {
			le.PutUint16(dst[2*i:], f16.Float32ToHalf(float32(v)))
		}
	case device.Uint8:
		for i, v := range row {
			dst[i] = uint8(roundSat(float64(v), 0, math.MaxUint8))
		}
	case device.Int8:
		for i, v := range row {
			dst[i] = uint8(int8(roundSat(float64(v), math.MinInt8, math.MaxInt8)))
		}
	case device.Uint16:
		for i, v := range row {
			le.PutUint16(dst[2*i:], uint16(roundSat(float64(v), 0, math.MaxUint16)))
		}
	case device.Int16:
		for i, v := range row {
			le.PutUint16(dst[2*i:], uint16(int16(roundSat(float64(v), math.MinInt16, math.MaxInt16))))
		}
	case device.Int32:
		for i, v := range row {
			le.PutUint32(dst[4*i:], uint32(int32(roundSat(float64(v), math.MinInt32, math.MaxInt32))))
		}
	}
}

// convertMat writes m, already of the target size, as dt into dst: the
// precision conversion alone.
func convertMat(m *mat, dt device.DataType, sat uint16, dst []byte) {
	n := m.w * m.c
	size := dt.Size()
	rowBytes := n * size
	if m.is16() {
		row := make([]float64, n)
		for y := range m.h {
			for i, v := range m.row16(y) {
				row[i] = float64(min(v, sat))
			}
			putRow(dt, dst[y*rowBytes:(y+1)*rowBytes], row)
		}
		return
	}
	// 8-bit values: look the 256 encodings up.
	vals := make([]float64, 256)
	for v := range vals {
		vals[v] = float64(min(uint16(v), sat))
	}
	lut := make([]byte, 256*size)
	putRow(dt, lut, vals)
	le := binary.LittleEndian
	for y := range m.h {
		src, d := m.row8(y), dst[y*rowBytes:(y+1)*rowBytes]
		switch size {
		case 1:
			for i, v := range src {
				d[i] = lut[v]
			}
		case 2:
			for i, v := range src {
				le.PutUint16(d[2*i:], le.Uint16(lut[2*int(v):]))
			}
		case 4:
			for i, v := range src {
				le.PutUint32(d[4*i:], le.Uint32(lut[4*int(v):]))
			}
		default:
			for i, v := range src {
				le.PutUint64(d[8*i:], le.Uint64(lut[8*int(v):]))
			}
		}
	}
}

// resizeMat resizes m to w x h and writes it as dt into dst.
func resizeMat(m *mat, w, h int, dt device.DataType, sat uint16, dst []byte) {
	p := newPlan(m.w, m.h, w, h, m.c)
	rowBytes := w * m.c * dt.Size()
	switch dt {
	case device.Uint8:
		resizeU8(m, p, func(dy int, row []uint8) {
			copy(dst[dy*rowBytes:], row)
		})
	case device.Float64:
		resizeFloat(m, p, sat, false, func(dy int, row []float64) {
			putRow(dt, dst[dy*rowBytes:(dy+1)*rowBytes], row)
		})
	default:
		resizeFloat(m, p, sat, isIntType(dt), func(dy int, row []float32) {
			putRow(dt, dst[dy*rowBytes:(dy+1)*rowBytes], row)
		})
	}
}
