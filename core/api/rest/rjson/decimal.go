package rjson

import (
	"math"
	"strconv"
)

// AppendDecimal32 appends f as TF Serving's WriteDecimal<float> writes it
// (json_tensor.cc): absl::StrCat's six significant digits (printf "%g"),
// or "%.9g" when those do not parse back to f, then ".0" when the text has
// neither '.' nor 'e'. So 2 -> "2.0", 0.1 -> "0.1", 1234567 ->
// "1234567.0", 1e-5 -> "1e-05", 9e6 -> "9e+06". NaN and infinities are
// "NaN", "Infinity" and "-Infinity".
func AppendDecimal32(dst []byte, f float32) []byte {
	return appendDecimal(dst, float64(f), 32)
}

// AppendDecimal64 is AppendDecimal32 for doubles ("%.17g" fallback).
func AppendDecimal64(dst []byte, d float64) []byte {
	return appendDecimal(dst, d, 64)
}

func appendDecimal(dst []byte, v float64, bitSize int) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'g', 6, 64)
	if !roundTrips(dst[start:], v, bitSize) {
		prec := 17
		if bitSize == 32 {
			prec = 9
		}
		dst = strconv.AppendFloat(dst[:start], v, 'g', prec, 64)
	}
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// roundTrips reports whether text parses back (as a float of bitSize) to v.
func roundTrips(text []byte, v float64, bitSize int) bool {
	var buf [32]byte
	s := buf[:copy(buf[:], text)]
	p, err := strconv.ParseFloat(string(s), bitSize)
	return err == nil && p == v
}
