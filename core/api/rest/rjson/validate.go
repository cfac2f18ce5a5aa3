package rjson

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// ParseErrorCode is a RapidJSON parse error code.
type ParseErrorCode int

// The RapidJSON parse errors a syntax check can report.
const (
	ErrDocumentEmpty ParseErrorCode = iota + 1
	ErrDocumentRootNotSingular
	ErrValueInvalid
	ErrObjectMissName
	ErrObjectMissColon
	ErrObjectMissCommaOrCurlyBracket
	ErrArrayMissCommaOrSquareBracket
	ErrStringUnicodeEscapeInvalidHex
	ErrStringUnicodeSurrogateInvalid
	ErrStringEscapeInvalid
	ErrStringMissQuotationMark
	ErrStringInvalidEncoding
	ErrNumberTooBig
	ErrNumberMissFraction
	ErrNumberMissExponent
)

// String is RapidJSON's English message (GetParseError_En).
func (c ParseErrorCode) String() string {
	switch c {
	case ErrDocumentEmpty:
		return "The document is empty."
	case ErrDocumentRootNotSingular:
		return "The document root must not be followed by other values."
	case ErrValueInvalid:
		return "Invalid value."
	case ErrObjectMissName:
		return "Missing a name for object member."
	case ErrObjectMissColon:
		return "Missing a colon after a name of object member."
	case ErrObjectMissCommaOrCurlyBracket:
		return "Missing a comma or '}' after an object member."
	case ErrArrayMissCommaOrSquareBracket:
		return "Missing a comma or ']' after an array element."
	case ErrStringUnicodeEscapeInvalidHex:
		return "Incorrect hex digit after \\u escape in string."
	case ErrStringUnicodeSurrogateInvalid:
		return "The surrogate pair in string is invalid."
	case ErrStringEscapeInvalid:
		return "Invalid escape character in string."
	case ErrStringMissQuotationMark:
		return "Missing a closing quotation mark in string."
	case ErrStringInvalidEncoding:
		return "Invalid encoding in string."
	case ErrNumberTooBig:
		return "Number too big to be stored in double."
	case ErrNumberMissFraction:
		return "Miss fraction part in number."
	case ErrNumberMissExponent:
		return "Miss exponent in number."
	}
	return "Unknown error."
}

// SyntaxError is a RapidJSON parse error at a byte offset.
type SyntaxError struct {
	Code   ParseErrorCode
	Offset int
}

// Error reads as OVMS's JSON_INVALID details: "Error: <text> Offset: <n>".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("Error: %s Offset: %d", e.Code, e.Offset)
}

// ErrTooDeep reports nesting deeper than the limit given to Validate.
var ErrTooDeep = errors.New("json nesting depth exceeded")

// TrimAtNUL cuts b at its first NUL byte: OVMS hands request bodies to
// RapidJSON as C strings, so a NUL ends the document.
func TrimAtNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

type vstate uint8

const (
	stStart vstate = iota
	stFinish
	stObjInitial
	stMemberKey
	stKVDelim
	stMemberValue
	stMemberDelim
	stArrInitial
	stElement
	stElemDelim
)

// Validate checks data the way OVMS's parseJsonWithDepthLimit does with
// RapidJSON's iterative parser: the first problem in document order is
// returned, either a *SyntaxError with RapidJSON's code and offset or
// ErrTooDeep when more than maxDepth objects/arrays are open at once.
// data must not contain NUL bytes (see TrimAtNUL).
func Validate(data []byte, maxDepth int) error {
	return validate(data, maxDepth, nil)
}

// ValidateIndex is Validate for a document that a Cursor then reads: it
// returns an index of the large objects and arrays, for the cursor
// (NewIndexedCursor) to skip them without reading them again, and it
// leaves the grammar of long runs of numbers in arrays to the readers
// that convert them (AppendFloats, AppendInts, AppendNumbers), so that
// their bytes are read once. The error it returns is Validate's; when it returns
// none, the document is valid if and only if Index.Check, called after
// the reading, returns none.
func ValidateIndex(data []byte, maxDepth int) (*Index, error) {
	idx := &Index{data: data, maxDepth: maxDepth}
	if err := validate(data, maxDepth, idx); err != nil {
		// An earlier run of numbers may hold the first error.
		if first := validate(data, maxDepth, nil); first != nil {
			return nil, first
		}
		return nil, err // not reached
	}
	slices.SortFunc(idx.spans, func(a, b span) int { return a.start - b.start })
	return idx, nil
}

// Index holds where the large objects and arrays of a document end, and
// the runs of numbers whose grammar is still to be checked.
type Index struct {
	data     []byte
	maxDepth int
	spans    []span // by start
	runs     []run  // by start
}

type span struct{ start, end int }

// A run is a stretch of an array from the start of a number to the first
// byte that cannot belong to numbers and their separators (runByte).
// The validator went on past it as if it were valid.
type run struct {
	start, end int
	checked    bool // a reader checked it as Validate would
}

// indexMin is the size from which a container is indexed: skipping a
// smaller one reads at most this many bytes.
const indexMin = 2048

// runMin is the length from which a run of numbers is left to readers.
const runMin = 64

// maxIndexed bounds the runs and the containers an Index records (24 and
// 16 bytes each), so that the index of a hostile document stays small;
// past it, runs are checked at once and containers are skipped by reading
// them.
const maxIndexed = 1 << 20

// end returns the offset after the container that starts at start.
func (x *Index) end(start int) (int, bool) {
	i, ok := slices.BinarySearchFunc(x.spans, start, func(s span, t int) int { return s.start - t })
	if !ok {
		return 0, false
	}
	return x.spans[i].end, true
}

// runAt returns the deferred run that starts at start, or -1.
func (x *Index) runAt(start int) int {
	if x == nil || len(x.runs) == 0 {
		return -1
	}
	i, ok := slices.BinarySearchFunc(x.runs, start, func(r run, t int) int { return r.start - t })
	if !ok {
		return -1
	}
	return i
}

// Check finishes the validation of the document: it checks the runs of
// numbers that no reader checked, and returns Validate's error if any
// run is not valid.
func (x *Index) Check() error {
	for _, r := range x.runs {
		if r.checked {
			continue
		}
		if end, _, err := numberRun(x.data, r.start); err != nil || end != r.end {
			if err := validate(x.data, x.maxDepth, nil); err != nil {
				return err
			}
			return &SyntaxError{ErrValueInvalid, end} // not reached: a bad run is an error
		}
	}
	return nil
}

// validate is Validate; with idx, it fills idx and leaves long runs of
// numbers unchecked (ValidateIndex).
func validate(data []byte, maxDepth int, idx *Index) error {
	var stack []byte
	var starts []int // with idx: where the open containers start
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
				if idx != nil {
					starts = idx.close(starts, i)
				}
				st = after(stack)
			case c == '{' || c == '[':
				if len(stack)+1 > maxDepth {
					return ErrTooDeep
				}
				stack = append(stack, c)
				if idx != nil {
					starts = append(starts, i)
				}
				i++
				st = stObjInitial
				if c == '[' {
					st = stArrInitial
				}
			case c == ']' || c == '}' || c == ',' || c == ':':
				return stateError(st, i)
			case (c == '-' || c-'0' <= 9) && (st == stArrInitial || st == stElemDelim):
				if idx != nil && len(idx.runs) < maxIndexed {
					if end := runEnd(data, i); end-i >= runMin {
						idx.runs = append(idx.runs, run{start: i, end: end})
						i, st = end, runState(data, i, end)
						break
					}
				}
				i, st, err = numberRun(data, i)
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
				if idx != nil {
					starts = idx.close(starts, i)
				}
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
				if idx != nil {
					starts = idx.close(starts, i)
				}
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

// close records the container that ends at end if it is large.
func (x *Index) close(starts []int, end int) []int {
	start := starts[len(starts)-1]
	if end-start >= indexMin && len(x.spans) < maxIndexed {
		x.spans = append(x.spans, span{start, end})
	}
	return starts[:len(starts)-1]
}

// runEnd returns the end of the run of numbers at data[i]: the offset of
// the first byte that runByte does not accept. In a valid document that
// is the byte after the run (']' or the start of an element that is not a
// number); in others the run may take in more bytes, but never one that
// is part of the structure ('[', ']', '{', '}', '"', ':', ...), so the
// validator stays in step, and the run then fails its check.
func runEnd(data []byte, i int) int {
	for i+8 <= len(data) {
		m := runStops(load8(data, i))
		if m == 0 { // not i += k: the next load must not wait
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if !runByte[data[i]] {
			return i
		}
		i++
	}
	for i < len(data) && runByte[data[i]] {
		i++
	}
	return i
}

// runByte marks the bytes a run of numbers may take in: those of numbers,
// commas and whitespace, and other bytes that cannot be part of the
// structure of a document (other control characters and '/').
var runByte = func() (t [256]bool) {
	for b := 0; b <= 0x20; b++ {
		t[b] = true
	}
	for b := '+'; b <= '9'; b++ {
		t[b] = true
	}
	t['e'], t['E'] = true, true
	return t
}()

// runState is the state after the run data[start:end] if it is valid:
// after a comma or after an element.
func runState(data []byte, start, end int) vstate {
	j := end - 1
	for j > start && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
		j--
	}
	if data[j] == ',' {
		return stElemDelim
	}
	return stElement
}

// numberRun checks the array elements from the number at data[i] while
// they are numbers, as the state machine would one by one: it returns the
// offset and state at the first element that is not a number
// (stElemDelim), or at the first byte after an element that is not a
// comma (stElement).
func numberRun(data []byte, i int) (int, vstate, *SyntaxError) {
	for {
		if j := plainNumberEnd(data, i); j >= 0 {
			i = j
		} else {
			var err *SyntaxError
			if i, err = scanNumber(data, i); err != nil {
				return i, stElement, err
			}
		}
		if i < len(data) && data[i] == ',' {
			i++
		} else {
			i = skipWS(data, i)
			if i >= len(data) || data[i] != ',' {
				return i, stElement, nil
			}
			i++
		}
		if i < len(data) && data[i] <= ' ' {
			i = skipWS(data, i)
		}
		if i >= len(data) || (data[i] != '-' && data[i]-'0' > 9) {
			return i, stElemDelim, nil
		}
	}
}

// plainNumberEnd returns the end of the number at data[i] when it is
// -?(0|[1-9][0-9]*)(.[0-9]+)? with no exponent and a short integer part
// (so it cannot be too big), else -1 (scanNumber decides).
func plainNumberEnd(data []byte, i int) int {
	if data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	default:
		j := digitsEnd(data, i)
		if j == i || j-i > 300 {
			return -1
		}
		i = j
	}
	if i < len(data) && data[i] == '.' {
		j := digitsEnd(data, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(data) && data[i]|0x20 == 'e' {
		return -1
	}
	return i
}

// after is the state that follows a complete value.
func after(stack []byte) vstate {
	switch {
	case len(stack) == 0:
		return stFinish
	case stack[len(stack)-1] == '{':
		return stMemberValue
	}
	return stElement
}

// stateError is RapidJSON's HandleError: the error a state reports when
// the next token (or the end) does not fit.
func stateError(st vstate, off int) *SyntaxError {
	switch st {
	case stStart:
		return &SyntaxError{ErrDocumentEmpty, off}
	case stFinish:
		return &SyntaxError{ErrDocumentRootNotSingular, off}
	case stObjInitial, stMemberDelim:
		return &SyntaxError{ErrObjectMissName, off}
	case stMemberKey:
		return &SyntaxError{ErrObjectMissColon, off}
	case stMemberValue:
		return &SyntaxError{ErrObjectMissCommaOrCurlyBracket, off}
	case stElement:
		return &SyntaxError{ErrArrayMissCommaOrSquareBracket, off}
	}
	return &SyntaxError{ErrValueInvalid, off}
}
