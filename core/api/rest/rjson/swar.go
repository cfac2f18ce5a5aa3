package rjson

import (
	"encoding/binary"
	"math/bits"
)

// Eight bytes at a time ("SIMD within a register"): numbers are runs of
// ASCII digits, so finding where a run ends and reading its value take a
// few word operations per 8 digits instead of a branch per byte.

// load8 reads data[i:i+8] as a little-endian word (the first byte lowest);
// the caller makes sure the 8 bytes are there.
func load8(data []byte, i int) uint64 { return binary.LittleEndian.Uint64(data[i : i+8]) }

// digitPrefix is the number of leading ASCII digits among the 8 bytes of x
// (first byte lowest), 0 to 8.
func digitPrefix(x uint64) int {
	t := x ^ 0x3030303030303030 // a digit becomes 0..9
	// A byte is marked when (t&0x7f)+0x76 reaches 0x80 (t&0x7f >= 10) or
	// t itself has its top bit; no carry crosses a byte.
	m := ((t & 0x7f7f7f7f7f7f7f7f) + 0x7676767676767676 | t) & 0x8080808080808080
	return bits.TrailingZeros64(m) >> 3
}

// parse8 is the value of the 8 ASCII digits in x (first byte the most
// significant digit). Zero bytes read as leading zeros, so the k digits
// at the start of a word w are parse8(w << (64 - 8*k)).
func parse8(x uint64) uint64 {
	x = (x & 0x0f0f0f0f0f0f0f0f) * 2561 >> 8
	x = (x & 0x00ff00ff00ff00ff) * 6553601 >> 16
	return (x & 0x0000ffff0000ffff) * 42949672960001 >> 32
}

// digitsEnd returns the offset of the first byte at or after i that is
// not an ASCII digit.
func digitsEnd(data []byte, i int) int {
	for i+8 <= len(data) {
		k := digitPrefix(load8(data, i))
		i += k
		if k < 8 {
			return i
		}
	}
	for i < len(data) && data[i]-'0' <= 9 {
		i++
	}
	return i
}

var pow10u = [20]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19}

// digitsValue is the value of the digits data[a:b], at most 19 of them.
func digitsValue(data []byte, a, b int) uint64 {
	var v uint64
	for b-a >= 8 {
		v = v*1e8 + parse8(load8(data, a))
		a += 8
	}
	k := b - a
	switch {
	case k == 0:
	case a+8 <= len(data):
		v = v*pow10u[k] + parse8(load8(data, a)<<(64-8*k))
	default:
		for ; a < b; a++ {
			v = v*10 + uint64(data[a]-'0')
		}
	}
	return v
}

// runStops marks (top bit) the bytes of x that may end a run of
// numbers: all but [0x00, 0x20] and [0x2c, 0x39] (digits, '.', ',', '-',
// '/', whitespace and control characters). runByte decides on them.
func runStops(x uint64) uint64 {
	y := x & 0x7f7f7f7f7f7f7f7f
	ge21 := y + 0x5f5f5f5f5f5f5f5f // top bit: byte&0x7f >= 0x21
	ge2C := y + 0x5454545454545454 // top bit: byte&0x7f >= 0x2c
	ge3A := y + 0x4646464646464646 // top bit: byte&0x7f >= 0x3a
	return (ge21&^ge2C | ge3A | x) & 0x8080808080808080
}

// zeroBytes sets the top bit of each zero byte of x (exactly: no carry
// crosses a byte).
func zeroBytes(x uint64) uint64 {
	return ^((x & 0x7f7f7f7f7f7f7f7f) + 0x7f7f7f7f7f7f7f7f | x) & 0x8080808080808080
}
