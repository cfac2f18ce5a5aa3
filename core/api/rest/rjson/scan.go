package rjson

import "strconv"

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// scanScalar checks a string, literal or number starting at data[i].
func scanScalar(data []byte, i int) (int, *SyntaxError) {
	switch data[i] {
	case '"':
		return scanString(data, i)
	case 'n':
		return scanLiteral(data, i, "null")
	case 't':
		return scanLiteral(data, i, "true")
	case 'f':
		return scanLiteral(data, i, "false")
	}
	return scanNumber(data, i)
}

func scanLiteral(data []byte, i int, lit string) (int, *SyntaxError) {
	for j := 1; j < len(lit); j++ {
		if i+j >= len(data) || data[i+j] != lit[j] {
			return i, &SyntaxError{ErrValueInvalid, i + j}
		}
	}
	return i + len(lit), nil
}

// scanString checks a string starting at the quote data[i] and returns the
// offset after the closing quote.
func scanString(data []byte, i int) (int, *SyntaxError) {
	i++
	for {
		if i >= len(data) {
			return i, &SyntaxError{ErrStringMissQuotationMark, i}
		}
		c := data[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			esc := i
			i++
			if i >= len(data) {
				return i, &SyntaxError{ErrStringEscapeInvalid, esc}
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				cp, ok := hex4(data, i+1)
				if !ok {
					return i, &SyntaxError{ErrStringUnicodeEscapeInvalidHex, esc}
				}
				i += 5
				if cp >= 0xD800 && cp <= 0xDFFF {
					if cp > 0xDBFF || i+1 >= len(data) || data[i] != '\\' || data[i+1] != 'u' {
						return i, &SyntaxError{ErrStringUnicodeSurrogateInvalid, esc}
					}
					lo, ok := hex4(data, i+2)
					if !ok {
						return i, &SyntaxError{ErrStringUnicodeEscapeInvalidHex, esc}
					}
					if lo < 0xDC00 || lo > 0xDFFF {
						return i, &SyntaxError{ErrStringUnicodeSurrogateInvalid, esc}
					}
					i += 6
				}
			default:
				return i, &SyntaxError{ErrStringEscapeInvalid, esc}
			}
		case c < 0x20:
			return i, &SyntaxError{ErrStringInvalidEncoding, i}
		default:
			i++
		}
	}
}

func hex4(data []byte, i int) (uint32, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var v uint32
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint32(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// scanNumber checks a number as RapidJSON's ParseNumber does: grammar
// errors at the offending byte, values beyond the double range (or a
// positive exponent past 308 plus the fraction digits) at the start.
func scanNumber(data []byte, i int) (int, *SyntaxError) {
	start := i
	isDigit := func(j int) bool { return j < len(data) && data[j] >= '0' && data[j] <= '9' }
	if i < len(data) && data[i] == '-' {
		i++
	}
	intStart := i
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case isDigit(i):
		for isDigit(i) {
			i++
		}
	default:
		return i, &SyntaxError{ErrValueInvalid, i}
	}
	intDigits := i - intStart
	fracDigits := 0
	if i < len(data) && data[i] == '.' {
		i++
		if !isDigit(i) {
			return i, &SyntaxError{ErrNumberMissFraction, i}
		}
		for isDigit(i) {
			i++
			fracDigits++
		}
	}
	exp := 0
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		neg := false
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			neg = data[i] == '-'
			i++
		}
		if !isDigit(i) {
			return i, &SyntaxError{ErrNumberMissExponent, i}
		}
		for isDigit(i) {
			if exp < 1<<20 {
				exp = exp*10 + int(data[i]-'0')
			}
			if !neg && exp > 308+fracDigits {
				return i, &SyntaxError{ErrNumberTooBig, start}
			}
			i++
		}
		if neg {
			exp = -exp
		}
	}
	// Only numbers of 10^308 or more can overflow a double.
	if intDigits+exp > 308 {
		if v, err := strconv.ParseFloat(string(data[start:i]), 64); err != nil && (v > 1 || v < -1) {
			return i, &SyntaxError{ErrNumberTooBig, start}
		}
	}
	return i, nil
}
