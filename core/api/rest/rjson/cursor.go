package rjson

import (
	"unicode/utf8"
)

// Kind is the kind of a JSON value.
type Kind uint8

// The value kinds.
const (
	KindInvalid Kind = iota
	KindNull
	KindFalse
	KindTrue
	KindNumber
	KindString
	KindArray
	KindObject
)

// Cursor reads a document that Validate accepted, value by value, without
// building a tree (or one that ValidateIndex accepted, whose long runs of
// numbers may still hold errors until Index.Check says otherwise).
// Strings without escapes alias the document. On input that does not
// have the expected shape (which Validate rules out) the cursor never
// panics: it stops and reports Bad.
type Cursor struct {
	data []byte
	pos  int
	bad  bool
	idx  *Index
}

// NewCursor returns a cursor at the start of data.
func NewCursor(data []byte) *Cursor { return &Cursor{data: data} }

// NewIndexedCursor returns a cursor at the start of data, which
// ValidateIndex accepted and indexed as idx: Skip jumps over the large
// objects and arrays.
func NewIndexedCursor(data []byte, idx *Index) *Cursor { return &Cursor{data: data, idx: idx} }

// Pos is the current offset.
func (c *Cursor) Pos() int { return c.pos }

// Seek moves to an offset obtained from Pos or FindMembers.
func (c *Cursor) Seek(pos int) { c.pos = pos }

// Bad reports whether the cursor met bytes it did not expect.
func (c *Cursor) Bad() bool { return c.bad }

func (c *Cursor) ws() {
	c.pos = skipWS(c.data, c.pos)
}

// Kind is the kind of the next value.
func (c *Cursor) Kind() Kind {
	c.ws()
	if c.pos >= len(c.data) {
		return KindInvalid
	}
	switch b := c.data[c.pos]; {
	case b == '{':
		return KindObject
	case b == '[':
		return KindArray
	case b == '"':
		return KindString
	case b == 't':
		return KindTrue
	case b == 'f':
		return KindFalse
	case b == 'n':
		return KindNull
	case b == '-' || (b >= '0' && b <= '9'):
		return KindNumber
	}
	return KindInvalid
}

func (c *Cursor) fail() {
	c.bad = true
	c.pos = len(c.data)
}

// Skip moves past the next value.
func (c *Cursor) Skip() {
	switch c.Kind() {
	case KindObject, KindArray:
		if c.idx != nil {
			if end, ok := c.idx.end(c.pos); ok {
				c.pos = end
				return
			}
		}
		depth := 0
		for c.pos < len(c.data) {
			b := c.data[c.pos]
			if !structural[b] {
				c.pos++
				continue
			}
			switch b {
			case '"':
				c.skipString()
				continue
			case '{', '[':
				depth++
			default: // '}', ']'
				depth--
				if depth == 0 {
					c.pos++
					return
				}
			}
			c.pos++
		}
		c.fail()
	case KindString:
		c.skipString()
	case KindInvalid:
		c.fail()
	default:
		for c.pos < len(c.data) {
			switch c.data[c.pos] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return
			}
			c.pos++
		}
	}
}

// structural marks the bytes that Skip looks at inside containers.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// skipString moves past the string at the cursor and reports whether it
// holds escapes.
func (c *Cursor) skipString() bool {
	escaped := false
	for i := c.pos + 1; i < len(c.data); i++ {
		switch c.data[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			c.pos = i + 1
			return escaped
		}
	}
	c.fail()
	return false
}

// EnterObject consumes '{'.
func (c *Cursor) EnterObject() bool { return c.enter('{') }

// EnterArray consumes '['.
func (c *Cursor) EnterArray() bool { return c.enter('[') }

func (c *Cursor) enter(b byte) bool {
	c.ws()
	if c.pos >= len(c.data) || c.data[c.pos] != b {
		c.fail()
		return false
	}
	c.pos++
	return true
}

// next consumes a separator and reports whether another item follows
// before the closing byte end (which it consumes).
func (c *Cursor) next(end byte) bool {
	c.ws()
	if c.pos < len(c.data) && c.data[c.pos] == ',' {
		c.pos++
		c.ws()
	}
	if c.pos >= len(c.data) {
		c.fail()
		return false
	}
	if c.data[c.pos] == end {
		c.pos++
		return false
	}
	return true
}

// NextElement reports whether the array has another element, and leaves
// the cursor on it; at the end it consumes ']'.
func (c *Cursor) NextElement() bool { return c.next(']') }

// NextMember returns the next member name of the object (decoded) and
// leaves the cursor on its value; at the end it consumes '}'.
func (c *Cursor) NextMember() ([]byte, bool) {
	if !c.next('}') {
		return nil, false
	}
	if c.Kind() != KindString {
		c.fail()
		return nil, false
	}
	key := c.String()
	c.ws()
	if c.pos >= len(c.data) || c.data[c.pos] != ':' {
		c.fail()
		return nil, false
	}
	c.pos++
	c.ws()
	return key, true
}

// FindMembers scans the object at the cursor and stores in pos[i] the
// offset of the value of the first member named keys[i] (RapidJSON's
// FindMember), or -1. The cursor ends after the object.
func (c *Cursor) FindMembers(keys []string, pos []int) {
	for i := range pos {
		pos[i] = -1
	}
	if !c.EnterObject() {
		return
	}
	for {
		k, ok := c.NextMember()
		if !ok {
			return
		}
		for i, want := range keys {
			if pos[i] < 0 && string(k) == want {
				pos[i] = c.pos
			}
		}
		c.Skip()
	}
}

// String reads a string value and returns its decoded bytes; they alias
// the document when the string has no escapes.
func (c *Cursor) String() []byte {
	if c.Kind() != KindString {
		c.fail()
		return nil
	}
	start := c.pos + 1
	if !c.skipString() {
		if c.bad {
			return nil
		}
		return c.data[start : c.pos-1 : c.pos-1]
	}
	return unescape(c.data[start : c.pos-1])
}

// unescape decodes the escapes of a checked string body.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b != '\\' || i+1 >= len(s) {
			out = append(out, b)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			cp, ok := hex4(s, i+1)
			if !ok {
				return out
			}
			i += 4
			if cp >= 0xD800 && cp <= 0xDBFF && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, ok := hex4(s, i+3); ok {
					cp = (cp-0xD800)<<10 | (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			out = utf8.AppendRune(out, rune(cp))
		default: // '"', '\\', '/'
			out = append(out, s[i])
		}
	}
	return out
}

// Bool reads true or false.
func (c *Cursor) Bool() bool {
	switch c.Kind() {
	case KindTrue:
		c.pos += 4
		return true
	case KindFalse:
		c.pos += 5
		return false
	}
	c.fail()
	return false
}

// Len is the length of the document.
func (c *Cursor) Len() int { return len(c.data) }
