package onnxruntime

/*
#include "ortshim.h"
*/
import "C"

import (
	"fmt"
	"strings"
)

// ErrorCode is ONNX Runtime's OrtErrorCode.
type ErrorCode int

// The error codes ONNX Runtime reports.
const (
	CodeFail                     ErrorCode = 1
	CodeInvalidArgument          ErrorCode = 2
	CodeNoSuchFile               ErrorCode = 3
	CodeNoModel                  ErrorCode = 4
	CodeEngineError              ErrorCode = 5
	CodeRuntimeException         ErrorCode = 6
	CodeInvalidProtobuf          ErrorCode = 7
	CodeModelLoaded              ErrorCode = 8
	CodeNotImplemented           ErrorCode = 9
	CodeInvalidGraph             ErrorCode = 10
	CodeEPFail                   ErrorCode = 11
	CodeModelLoadCanceled        ErrorCode = 12
	CodeModelRequiresCompilation ErrorCode = 13
	CodeNotFound                 ErrorCode = 14
)

var codeNames = [...]string{
	"ok", "fail", "invalid argument", "no such file", "no model", "engine error", "runtime exception",
	"invalid protobuf", "model loaded", "not implemented", "invalid graph", "execution provider failed",
	"model load canceled", "model requires compilation", "not found",
}

// String returns the code's name in lower case, e.g. "invalid argument".
func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("error code %d", int(c))
}

// Error is an error reported by ONNX Runtime. Functions of this package
// wrap it with context; use errors.As to get at the code.
type Error struct {
	Code    ErrorCode
	Message string // ONNX Runtime's message, unchanged
}

// Error returns the code and ONNX Runtime's message.
func (e *Error) Error() string { return e.Code.String() + ": " + strings.TrimSpace(e.Message) }

// statusErr turns an OrtStatus into an *Error (nil for success) and
// releases the status.
func statusErr(st *C.OrtStatus) error {
	if st == nil {
		return nil
	}
	e := &Error{
		Code:    ErrorCode(C.ortgo_status_code(st)),
		Message: C.GoString(C.ortgo_status_message(st)),
	}
	C.ortgo_release_status(st)
	return e
}
