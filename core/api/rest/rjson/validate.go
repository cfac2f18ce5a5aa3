package rjson

import (
	"bytes"
	"errors"
	"fmt"
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
