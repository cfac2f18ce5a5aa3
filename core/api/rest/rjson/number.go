package rjson

import (
	"math"
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
// decimal mantissa and exponent that let Float64 skip strconv.
func scanNum(data []byte, i int) (Number, int) {
	start := i
	var n Number
	if i < len(data) && data[i] == '-' {
		n.neg = true
		i++
	}
	limit := uint64(math.MaxUint64)
	if n.neg {
		limit = 1 << 63
	}
	var mant uint64
	nd, fracDigits := 0, 0
	exact, overflow := true, false
	digit := func(v uint64) {
		switch {
		case nd == 0 && v == 0: // a leading zero
		case nd < 19:
			mant = mant*10 + v
			nd++
		default:
			exact = false
		}
	}
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		v := uint64(data[i] - '0')
		if !overflow && n.mag > (limit-v)/10 {
			overflow = true
		}
		if !overflow {
			n.mag = n.mag*10 + v
		}
		digit(v)
	}
	if i < len(data) && data[i] == '.' {
		n.double = true
		for i++; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
			digit(uint64(data[i] - '0'))
			fracDigits++
		}
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
	if overflow || n.double {
		n.double = true
		n.mag, n.exp10, n.exact = mant, exp-fracDigits, exact
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
