package rjson

import "math"

// Reference implementations: the straightforward code that the fast paths
// replaced, to test them against.

// scanNumRef is the byte-at-a-time scanNum that the SWAR one replaced.
func scanNumRef(data []byte, i int) (Number, int) {
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

// validateRef is the byte-at-a-time Validate: one state-machine step per
// value, numbers through scanScalar.
func validateRef(data []byte, maxDepth int) error {
	var stack []byte
	st := stStart
	i := skipWS(data, 0)
	for i < len(data) {
		c := data[i]
		var err *SyntaxError
		switch st {
		case stStart, stKVDelim, stArrInitial, stElemDelim:
			switch {
			case c == ']' && st == stArrInitial:
				stack = stack[:len(stack)-1]
				i++
				st = after(stack)
			case c == '{' || c == '[':
				if len(stack)+1 > maxDepth {
					return ErrTooDeep
				}
				stack = append(stack, c)
				i++
				st = stObjInitial
				if c == '[' {
					st = stArrInitial
				}
			case c == ']' || c == '}' || c == ',' || c == ':':
				return stateError(st, i)
			default:
				i, err = scanScalar(data, i)
				st = after(stack)
			}
		case stObjInitial, stMemberDelim:
			switch {
			case c == '"':
				i, err = scanString(data, i)
				st = stMemberKey
			case c == '}' && st == stObjInitial:
				stack = stack[:len(stack)-1]
				i++
				st = after(stack)
			default:
				return &SyntaxError{ErrObjectMissName, i}
			}
		case stMemberKey:
			if c != ':' {
				return &SyntaxError{ErrObjectMissColon, i}
			}
			i++
			st = stKVDelim
		case stMemberValue, stElement:
			switch {
			case c == ',':
				i++
				if st == stElement {
					st = stElemDelim
				} else {
					st = stMemberDelim
				}
			case (c == '}' && st == stMemberValue) || (c == ']' && st == stElement):
				stack = stack[:len(stack)-1]
				i++
				st = after(stack)
			default:
				return stateError(st, i)
			}
		case stFinish:
			return &SyntaxError{ErrDocumentRootNotSingular, i}
		}
		if err != nil {
			return err
		}
		i = skipWS(data, i)
	}
	if st != stFinish {
		return stateError(st, len(data))
	}
	return nil
}
