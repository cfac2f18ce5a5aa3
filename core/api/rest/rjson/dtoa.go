package rjson

import (
	"bytes"
	"math"
	"strconv"
)

// AppendDouble appends v formatted as RapidJSON's Writer::Double lays it
// out: the shortest digits that round-trip (Go's strconv; RapidJSON's Grisu2
// gives the same digits except in rare cases where it emits a longer string
// for the same double), then Prettify: decimal notation with at least one fractional digit for
// 1e-6 <= |v| < 1e21 ("2.0", "0.000001"), else d[.ddd]e±x without '+' or
// zero padding ("1e30", "1.5e-7"). Zero is "0.0" or "-0.0". RapidJSON
// refuses NaN and infinities (and OVMS then emits broken JSON); here they
// are written as "NaN", "Infinity" and "-Infinity", as RapidJSON does with
// kWriteNanAndInfFlag.
func AppendDouble(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	case v == 0:
		if math.Signbit(v) {
			dst = append(dst, '-')
		}
		return append(dst, "0.0"...)
	}
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [32]byte
	digits, k := shortestDigits(buf[:0], v)
	return prettify(dst, digits, k)
}

// shortestDigits returns the shortest decimal digits d and exponent k with
// v == d * 10^k after rounding to float64 (v > 0, finite).
func shortestDigits(buf []byte, v float64) ([]byte, int) {
	e := strconv.AppendFloat(buf, v, 'e', -1, 64) // d.ddde±xx
	mant, exp, _ := bytes.Cut(e, []byte{'e'})
	x, _ := strconv.Atoi(string(exp))
	digits := append(mant[:1:1], mant[min(2, len(mant)):]...) // drop the '.'
	return digits, x - (len(digits) - 1)
}

// prettify lays out digits d with decimal exponent k (value d * 10^k) as
// RapidJSON's Prettify with maxDecimalPlaces 324.
func prettify(dst, d []byte, k int) []byte {
	length := len(d)
	kk := length + k // 10^(kk-1) <= v < 10^kk
	switch {
	case k >= 0 && kk <= 21: // 1234e7 -> 12340000000.0
		dst = append(dst, d...)
		for i := length; i < kk; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	case kk > 0 && kk <= 21: // 1234e-2 -> 12.34
		dst = append(dst, d[:kk]...)
		dst = append(dst, '.')
		return append(dst, d[kk:]...)
	case kk > -6 && kk <= 0: // 1234e-6 -> 0.001234
		dst = append(dst, '0', '.')
		for i := kk; i < 0; i++ {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	case kk < -324:
		return append(dst, '0', '.', '0')
	case length == 1: // 1e30
		dst = append(dst, d[0], 'e')
		return appendExponent(dst, kk-1)
	default: // 1234e30 -> 1.234e33
		dst = append(dst, d[0], '.')
		dst = append(dst, d[1:]...)
		dst = append(dst, 'e')
		return appendExponent(dst, kk-1)
	}
}

func appendExponent(dst []byte, e int) []byte {
	if e < 0 {
		dst = append(dst, '-')
		e = -e
	}
	switch {
	case e >= 100:
		return append(dst, byte('0'+e/100), byte('0'+e/10%10), byte('0'+e%10))
	case e >= 10:
		return append(dst, byte('0'+e/10), byte('0'+e%10))
	}
	return append(dst, byte('0'+e))
}
