package rjson

import (
	"math"
	"math/bits"
)

// Float is the element type of AppendFloats.
type Float interface{ ~float32 | ~float64 }

// AppendFloats reads the run of number elements that starts at the cursor
// (on an array element) and appends one value per number to dst: T of the
// number's Float64 for integers of magnitude up to 2^53 and for decimals
// that Float64 reads exactly (at most 19 digits, a mantissa up to 2^53
// and a decimal exponent within ±22: one correctly rounded multiply or
// divide), slow(n) for the others, so slow must agree with T(n.Float64())
// on the former. It returns the extended dst, the number of values read,
// and whether the array ended (its ']' consumed); when it did not, the
// cursor is on the first element that is not a number. When the run is
// one that ValidateIndex left to readers, its grammar is checked here as
// Validate would, and Index.Check then skips it.
//
// This is the hot loop of JSON tensor decoding: a number in the common
// form is scanned and converted in one pass over its bytes, eight at a
// time (numberAt); others go through Number.
func AppendFloats[T Float](c *Cursor, dst []T, slow func(Number) T) ([]T, int, bool) {
	return AppendFloatsMax(c, dst, math.MaxInt, slow)
}

// AppendFloatsMax is AppendFloats that appends at most max values: when
// it stops there, it returns false (the array goes on) with the cursor on
// the next number, so a caller can tell the limit from the end of a run by
// the kind of the element at the cursor.
func AppendFloatsMax[T Float](c *Cursor, dst []T, max int, slow func(Number) T) ([]T, int, bool) {
	data := c.data
	s := skipWS(data, c.pos)
	r := c.idx.runAt(s) // a run this loop checks
	n0 := len(dst)
	for {
		// s is where an element starts.
		if s >= len(data) || (data[s] != '-' && data[s]-'0' > 9) || len(dst)-n0 >= max {
			return dst, len(dst) - n0, c.runStop(r, s)
		}
		f, e, ok := numberAt(data, s)
		if ok {
			dst = append(dst, T(f))
		} else {
			var n Number
			n, e = scanNum(data, s)
			if r >= 0 && !validNumber(data, s, e) {
				r = -1
			}
			dst = append(dst, slow(n))
		}
		// The separator.
		if e < len(data) && data[e] == ',' {
			e++
		} else {
			e = skipWS(data, e)
			if e < len(data) && data[e] == ']' {
				return dst, len(dst) - n0, c.runEnd(r, e)
			}
			if e >= len(data) || data[e] != ',' {
				c.fail()
				return dst, len(dst) - n0, true
			}
			e++
		}
		s = e
		if s < len(data) && data[s] <= ' ' {
			s = skipWS(data, s)
		}
	}
}

// runStop leaves the cursor at s, the element after a run of numbers (or
// where the run was to start), and returns false (the array goes on); r
// is the deferred run that the reader checked from its start, or -1.
func (c *Cursor) runStop(r, s int) bool {
	if r >= 0 && s == c.idx.runs[r].end {
		c.idx.runs[r].checked = true
	}
	c.pos = s
	return false
}

// runEnd moves the cursor past the ']' at e that ends a run of numbers,
// and returns true (the array ended).
func (c *Cursor) runEnd(r, e int) bool {
	if r >= 0 && e == c.idx.runs[r].end {
		c.idx.runs[r].checked = true
	}
	c.pos = e + 1
	return true
}

// numberStops marks (top bit) the bytes of x outside '-' to '9' ('-',
// '.', '/' and the digits).
func numberStops(x uint64) uint64 {
	y := x & 0x7f7f7f7f7f7f7f7f
	ge2D := y + 0x5353535353535353 // top bit: byte&0x7f >= 0x2d
	ge3A := y + 0x4646464646464646 // top bit: byte&0x7f >= 0x3a
	return (^ge2D | ge3A | x) & 0x8080808080808080
}

// hiBytes[k] keeps the top k bytes of a word.
var hiBytes = [16]uint64{0, 0xff << 56, 0xffff << 48, 0xffffff << 40, 0xffffffff << 32, 0xffffffffff << 24,
	0xffffffffffff << 16, 0xffffffffffffff << 8, 0xffffffffffffffff}

// nonDigits marks (top bit) the bytes of x that are not ASCII digits.
func nonDigits(x uint64) uint64 {
	t := x ^ 0x3030303030303030
	return ((t & 0x7f7f7f7f7f7f7f7f) + 0x7676767676767676 | t) & 0x8080808080808080
}

// numberAt reads the number at data[s] when it has the common form
// -?(0|[1-9]D{0,6})(.D+)? in at most 15 bytes, or is an integer of at
// most 8 bytes, followed by ',', ']' or whitespace: a valid JSON number
// whose mantissa (at most 14 digits) is below 2^53 and whose decimal
// exponent is within -13..0, so that one correctly rounded division
// gives its Float64. It returns the value and the offset after the
// number, or false for numbers in any other form (exponents, long ones,
// invalid ones). The number's end is found, and its digits are read
// right-aligned from its end and its dot, eight bytes at a time with no
// per-digit branch. It needs 16 bytes before s and 16 from it.
func numberAt(data []byte, s int) (float64, int, bool) {
	if s < 16 || s+16 > len(data) {
		return 0, s, false
	}
	// The number's bytes ('-', '.', digits, '/') end at e, where a
	// separator must follow.
	w0 := load8(data, s)
	var e int
	if m := numberStops(w0); m != 0 {
		e = s + bits.TrailingZeros64(m)>>3
	} else if m = numberStops(load8(data, s+8)); m != 0 {
		e = s + 8 + bits.TrailingZeros64(m)>>3
	} else {
		return 0, s, false
	}
	if t := data[e]; t != ',' && t != ']' && t > ' ' {
		return 0, s, false
	}
	n := e - s
	if n < 1 {
		return 0, s, false
	}
	neg := w0&0xff == '-'
	ds := s // the first digit
	if neg {
		ds++
	}
	// The dot, among the first 8 bytes; with none there, the number is
	// an integer of at most 8 bytes.
	dm := zeroBytes(w0^0x2e2e2e2e2e2e2e2e) &^ hiBytes[(8-min(n, 8))&15]
	dot := e
	if dm != 0 {
		dot = s + bits.TrailingZeros64(dm)>>3
	} else if n > 8 {
		return 0, s, false
	}
	ni := dot - ds // integer digits: 1 to 7 (8 for a plain integer)
	if ni < 1 || (ni > 1 && w0>>(8*(ds-s))&0xff == '0') {
		return 0, s, false
	}
	var m, bad uint64
	if ni == 1 {
		m = w0>>(8*(ds-s))&0xff - '0' // wraps for bytes below '0'
		if m > 9 {
			bad = 1
		}
	} else {
		wi := load8(data, dot-8)
		bad = nonDigits(wi) & hiBytes[ni&15]
		m = parse8(wi & hiBytes[ni&15])
	}
	nf := 0
	if dot < e {
		nf = e - dot - 1 // fraction digits: 1 to 14
		if nf == 0 {
			return 0, s, false
		}
		wf := load8(data, e-8)
		if nf <= 8 {
			bad |= nonDigits(wf) & hiBytes[nf&15]
			m = m*pow10u[nf&15] + parse8(wf&hiBytes[nf&15])
		} else {
			wh := load8(data, e-16)
			k := (nf - 8) & 15
			bad |= nonDigits(wf) | nonDigits(wh)&hiBytes[k]
			m = (m*pow10u[k]+parse8(wh&hiBytes[k]))*1e8 + parse8(wf)
		}
	}
	if bad != 0 {
		return 0, s, false
	}
	f := float64(int64(m)) / exactPow10[nf&15] // m < 10^15
	// The integer -0 reads as 0, as in RapidJSON.
	var sign uint64
	if neg && (nf > 0 || m != 0) {
		sign = 1 << 63
	}
	return math.Float64frombits(math.Float64bits(f) | sign), e, true
}

// AppendNumbers reads the run of number elements that starts at the
// cursor (on an array element) and appends conv(n) for each number n,
// stopping when conv reports false (ok false, the cursor after that
// number). Otherwise it is AppendFloats for any element type.
func AppendNumbers[T any](c *Cursor, dst []T, conv func(Number) (T, bool)) (out []T, count int, done, ok bool) {
	return AppendNumbersMax(c, dst, math.MaxInt, conv)
}

// AppendNumbersMax is AppendNumbers that appends at most max values (see
// AppendFloatsMax).
func AppendNumbersMax[T any](c *Cursor, dst []T, max int, conv func(Number) (T, bool)) (out []T, count int, done, ok bool) {
	data := c.data
	s := skipWS(data, c.pos)
	r := c.idx.runAt(s) // a run this loop checks
	n0 := len(dst)
	for {
		if s >= len(data) || (data[s] != '-' && data[s]-'0' > 9) || len(dst)-n0 >= max {
			return dst, len(dst) - n0, c.runStop(r, s), true
		}
		n, e := scanNum(data, s)
		if r >= 0 && !validNumber(data, s, e) {
			r = -1
		}
		v, ok := conv(n)
		if !ok {
			c.pos = e
			return dst, len(dst) - n0, false, false
		}
		dst = append(dst, v)
		if e < len(data) && data[e] == ',' {
			e++
		} else {
			e = skipWS(data, e)
			if e < len(data) && data[e] == ']' {
				return dst, len(dst) - n0, c.runEnd(r, e), true
			}
			if e >= len(data) || data[e] != ',' {
				c.fail()
				return dst, len(dst) - n0, true, true
			}
			e++
		}
		s = e
		if s < len(data) && data[s] <= ' ' {
			s = skipWS(data, s)
		}
	}
}

// Integer is the element type of AppendInts.
type Integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// AppendInts is AppendNumbers for integer element types, with a fast path:
// an integer of at most 7 digits, value v, becomes T(v) (a Go conversion,
// which truncates or wraps as C++ casts do) without conv, except, with
// unsigned, when it is negative (-0 is not). conv must agree with that.
func AppendInts[T Integer](c *Cursor, dst []T, unsigned bool, conv func(Number) (T, bool)) (out []T, count int, done, ok bool) {
	return AppendIntsMax(c, dst, math.MaxInt, unsigned, conv)
}

// AppendIntsMax is AppendInts that appends at most max values (see
// AppendFloatsMax).
func AppendIntsMax[T Integer](c *Cursor, dst []T, max int, unsigned bool, conv func(Number) (T, bool)) (out []T, count int, done, ok bool) {
	data := c.data
	s := skipWS(data, c.pos)
	r := c.idx.runAt(s) // a run this loop checks
	n0 := len(dst)
	for {
		if s >= len(data) || (data[s] != '-' && data[s]-'0' > 9) || len(dst)-n0 >= max {
			return dst, len(dst) - n0, c.runStop(r, s), true
		}
		m, neg, e, fast := intAt(data, s)
		switch {
		case fast && !neg:
			dst = append(dst, T(m))
		case fast && (!unsigned || m == 0):
			dst = append(dst, T(-int64(m)))
		default:
			var n Number
			n, e = scanNum(data, s)
			if r >= 0 && !validNumber(data, s, e) {
				r = -1
			}
			v, ok := conv(n)
			if !ok {
				c.pos = e
				return dst, len(dst) - n0, false, false
			}
			dst = append(dst, v)
		}
		if e < len(data) && data[e] == ',' {
			e++
		} else {
			e = skipWS(data, e)
			if e < len(data) && data[e] == ']' {
				return dst, len(dst) - n0, c.runEnd(r, e), true
			}
			if e >= len(data) || data[e] != ',' {
				c.fail()
				return dst, len(dst) - n0, true, true
			}
			e++
		}
		s = e
		if s < len(data) && data[s] <= ' ' {
			s = skipWS(data, s)
		}
	}
}

// intAt reads the number at data[s] when it is an integer of at most 7
// digits (a valid JSON number: no leading zero) that a byte other than
// '.', 'e' or 'E' ends within 8 bytes: its magnitude, its sign and the
// offset after it. It needs 8 bytes from s.
func intAt(data []byte, s int) (uint64, bool, int, bool) {
	if s+8 > len(data) {
		return 0, false, s, false
	}
	w := load8(data, s)
	neg := w&0xff == '-'
	ds := s
	if neg {
		w >>= 8
		ds++
	}
	k := digitPrefix(w)
	e := ds + k
	if k == 0 || e >= s+8 || (k > 1 && w&0xff == '0') {
		return 0, false, s, false
	}
	if t := data[e]; t == '.' || t|0x20 == 'e' {
		return 0, false, s, false
	}
	return parse8(w << (64 - 8*uint(k))), neg, e, true
}

// validNumber reports whether data[i:end] is a number as Validate checks
// it (grammar and range).
func validNumber(data []byte, i, end int) bool {
	j, err := scanNumber(data, i)
	return err == nil && j == end
}
