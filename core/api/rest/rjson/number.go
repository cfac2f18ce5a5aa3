package rjson

import (
	"math"
	"math/bits"
	"strconv"
)

// Number is a JSON number with RapidJSON's type flags: an integer token is
// kept exactly when it fits an int64 (negative) or uint64 (positive), any
// other number is a double.
type Number struct {
	raw    []byte
	mag    uint64 // integer magnitude, or the decimal mantissa of a double
	exp10  int    // decimal exponent of a double whose mantissa is exact
	neg    bool
	double bool
	exact  bool // mag * 10^exp10 is the double's exact decimal value
}

// Number reads a number value.
func (c *Cursor) Number() Number {
	if c.Kind() != KindNumber {
		c.fail()
		return Number{}
	}
	n, end := scanNum(c.data, c.pos)
	c.pos = end
	return n
}

// ParseNumber classifies a checked number token.
func ParseNumber(raw []byte) Number {
	n, _ := scanNum(raw, 0)
	return n
}

// scanNum reads the checked number at data[i] in one pass: its integer
// value when it has one, else (for up to 19 significant digits) the
// decimal mantissa and exponent that let Float64 skip strconv. Digit runs
// are found and read eight bytes at a time.
func scanNum(data []byte, i int) (Number, int) {
	start := i
	var n Number
	if i < len(data) && data[i] == '-' {
		n.neg = true
		i++
	}
	intStart := i
	i = digitsEnd(data, i)
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(data) && data[i] == '.' {
		n.double = true
		fracStart = i + 1
		i = digitsEnd(data, fracStart)
		fracEnd = i
	}
	exp := 0
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		n.double = true
		i++
		eneg := false
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			eneg = data[i] == '-'
			i++
		}
		for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
			if exp < 100000 {
				exp = exp*10 + int(data[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	n.raw = data[start:i:i]
	for intStart < intEnd && data[intStart] == '0' { // leading zeros
		intStart++
	}
	nInt := intEnd - intStart
	overflow := false
	switch {
	case nInt <= 19:
		n.mag = digitsValue(data, intStart, intEnd)
	case nInt == 20:
		hi, lo := bits.Mul64(digitsValue(data, intStart, intStart+19), 10)
		var carry uint64
		n.mag, carry = bits.Add64(lo, uint64(data[intStart+19]-'0'), 0)
		overflow = hi != 0 || carry != 0
	default:
		overflow = true
	}
	if n.neg && n.mag > 1<<63 {
		overflow = true
	}
	if !overflow && !n.double {
		return n, i
	}
	n.double = true
	n.exp10 = exp - (fracEnd - fracStart)
	// The significant digits: the integer part, then the fraction (whose
	// leading zeros do not count when the integer part is zero).
	fs := fracStart
	if nInt == 0 {
		for fs < fracEnd && data[fs] == '0' {
			fs++
		}
	}
	if nInt+fracEnd-fs <= 19 {
		n.mag = digitsValue(data, intStart, intEnd)*pow10u[fracEnd-fs] + digitsValue(data, fs, fracEnd)
		n.exact = true
		return n, i
	}
	// More than 19: the mantissa holds the first 19 (Float64 takes strconv).
	n.mag = 0
	nd := 0
	for _, r := range [2][2]int{{intStart, intEnd}, {fs, fracEnd}} {
		for j := r[0]; j < r[1] && nd < 19; j++ {
			n.mag = n.mag*10 + uint64(data[j]-'0')
			nd++
		}
	}
	return n, i
}

// Raw is the number's text.
func (n Number) Raw() []byte { return n.raw }

// IsDouble reports a fraction, an exponent or an integer out of range.
func (n Number) IsDouble() bool { return n.double }

// IsInt reports an integer in int32 range.
func (n Number) IsInt() bool {
	return !n.double && (n.mag <= math.MaxInt32 || (n.neg && n.mag == 1<<31))
}

// IsUint reports an integer in uint32 range ("-0" counts).
func (n Number) IsUint() bool { return !n.double && (!n.neg || n.mag == 0) && n.mag <= math.MaxUint32 }

// IsInt64 reports an integer in int64 range.
func (n Number) IsInt64() bool { return !n.double && (n.mag <= math.MaxInt64 || n.neg) }

// IsUint64 reports an integer in uint64 range ("-0" counts).
func (n Number) IsUint64() bool { return !n.double && (!n.neg || n.mag == 0) }

// Int64 is the value of an IsInt64 number.
func (n Number) Int64() int64 {
	if n.double {
		return 0
	}
	if n.neg {
		return int64(-n.mag)
	}
	return int64(n.mag)
}

// Uint64 is the value of an IsUint64 number.
func (n Number) Uint64() uint64 {
	if n.double {
		return 0
	}
	return n.mag
}

var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Float64 is the value as a double (RapidJSON GetDouble; "-0" reads as 0),
// correctly rounded: short decimals take the exact fast path that strconv
// would take, the rest go through strconv.
func (n Number) Float64() float64 {
	if !n.double {
		if n.neg {
			if n.mag == 0 {
				return 0
			}
			return float64(int64(-n.mag))
		}
		return float64(n.mag)
	}
	if n.exact && n.mag <= 1<<53 && n.exp10 >= -22 && n.exp10 <= 22 {
		f := float64(n.mag)
		if n.exp10 >= 0 {
			f *= exactPow10[n.exp10]
		} else {
			f /= exactPow10[-n.exp10]
		}
		if n.neg {
			f = -f
		}
		return f
	}
	v, _ := strconv.ParseFloat(string(n.raw), 64)
	return v
}
