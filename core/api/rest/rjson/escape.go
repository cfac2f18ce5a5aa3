package rjson

const hexUpper = "0123456789ABCDEF"
const hexLower = "0123456789abcdef"

// rapidEscape holds RapidJSON's escape letter per byte ('u' = \u00XX).
var rapidEscape = [256]byte{
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'"': '"', '\\': '\\',
}

// appendQuoted appends s as a quoted JSON string.
func appendQuoted[S string | []byte](dst []byte, s S, esc Escaping) []byte {
	dst = append(dst, '"')
	if esc == EscapeProtobuf {
		dst = appendProtoEscaped(dst, s)
	} else {
		dst = appendRapidEscaped(dst, s)
	}
	return append(dst, '"')
}

// appendRapidEscaped escapes like RapidJSON's Writer::WriteString without
// kWriteValidateEncodingFlag: bytes >= 0x20 other than '"' and '\\' pass.
func appendRapidEscaped[S string | []byte](dst []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		e := rapidEscape[s[i]]
		if e == 0 {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', e)
		if e == 'u' {
			dst = append(dst, '0', '0', hexUpper[s[i]>>4], hexUpper[s[i]&0xF])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendProtoEscaped escapes like protobuf's JsonEscaping::Escape: code
// points are decoded from UTF-8, invalid sequences are dropped, and a few
// classes of code points are written as lowercase \u escapes.
func appendProtoEscaped[S string | []byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); {
		cp, n, ok := readCodePoint(s, i)
		if !ok {
			i += n
			continue
		}
		switch {
		case cp == '"':
			dst = append(dst, '\\', '"')
		case cp == '\\':
			dst = append(dst, '\\', '\\')
		case cp == '\b':
			dst = append(dst, '\\', 'b')
		case cp == '\t':
			dst = append(dst, '\\', 't')
		case cp == '\n':
			dst = append(dst, '\\', 'n')
		case cp == '\f':
			dst = append(dst, '\\', 'f')
		case cp == '\r':
			dst = append(dst, '\\', 'r')
		case protoNeedsEscape(cp):
			if cp > 0xFFFF {
				c := cp - 0x10000
				dst = appendU4(dst, 0xD800+(c>>10))
				dst = appendU4(dst, 0xDC00+(c&0x3FF))
			} else {
				dst = appendU4(dst, cp)
			}
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

func appendU4(dst []byte, v uint32) []byte {
	return append(dst, '\\', 'u', hexLower[v>>12&0xF], hexLower[v>>8&0xF], hexLower[v>>4&0xF], hexLower[v&0xF])
}

// protoNeedsEscape lists the code points protobuf escapes besides the
// short escapes.
func protoNeedsEscape(cp uint32) bool {
	switch {
	case cp < 0x20, cp == '<', cp == '>', cp >= 0x7F && cp < 0xA0:
		return true
	case cp == 0xFEFF, cp >= 0xFFF9 && cp <= 0xFFFB, cp == 0x00AD, cp == 0x06DD, cp == 0x070F,
		cp == 0x17B4, cp == 0x17B5, cp >= 0x0600 && cp <= 0x0603, cp >= 0x200B && cp <= 0x200F,
		cp >= 0x2028 && cp <= 0x202E, cp >= 0x2060 && cp <= 0x2064, cp >= 0x206A && cp <= 0x206F:
		return true
	case cp == 0xE0001, cp >= 0x1D173 && cp <= 0x1D17A, cp >= 0xE0020 && cp <= 0xE007F:
		return true
	}
	return false
}

// readCodePoint decodes one code point at s[i] the way protobuf's
// ReadCodePoint does (overlong forms pass; surrogates, values past
// U+10FFFF, stray or truncated sequences fail). n is the number of bytes
// consumed either way.
func readCodePoint[S string | []byte](s S, i int) (cp uint32, n int, ok bool) {
	c := s[i]
	need := 0
	switch {
	case c <= 0x7F:
		return uint32(c), 1, true
	case c <= 0xBF:
		return 0, 1, false
	case c <= 0xDF:
		cp, need = uint32(c&0x1F), 1
	case c <= 0xEF:
		cp, need = uint32(c&0x0F), 2
	case c <= 0xF7:
		cp, need = uint32(c&0x07), 3
	default:
		return 0, 1, false
	}
	n = 1
	for ; need > 0 && i+n < len(s); need-- {
		ch := s[i+n]
		n++
		cp = cp<<6 | uint32(ch&0x3F)
		if ch < 0x80 || ch > 0xBF {
			return 0, n, false
		}
	}
	if need > 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF {
		return 0, n, false
	}
	return cp, n, true
}

// AppendString appends s as a quoted string with RapidJSON's escaping.
func AppendString(dst, s []byte) []byte { return appendQuoted(dst, s, EscapeRapidJSON) }
