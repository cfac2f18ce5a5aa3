// Package apierr is the one typed error of the ovms APIs. Each Code is an
// OVMS status code with OVMS's exact base message; the transports map it to a
// gRPC code and an HTTP status at the edge. A message with details reads
// "<base message> - <details>", as in OVMS.
package apierr

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Code is an OVMS status code.
type Code int

// Error is an API error: a code plus optional details.
type Error struct {
	// Code selects the base message, gRPC code and HTTP status.
	Code Code
	// Details follow the base message after " - ".
	Details string
	// Err is an underlying cause, kept for logs and errors.Is; never shown.
	Err error
}

// New returns an error with no details.
func New(c Code) *Error { return &Error{Code: c} }

// Newf returns an error whose details are formatted.
func Newf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Details: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of code c with details and a hidden cause.
func Wrap(c Code, err error, format string, args ...any) *Error {
	return &Error{Code: c, Details: fmt.Sprintf(format, args...), Err: err}
}

// Error is the message clients see.
func (e *Error) Error() string {
	m := e.Code.Message()
	if e.Details != "" {
		if m == "" {
			return e.Details
		}
		return m + " - " + e.Details
	}
	return m
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Message is the base message of the code.
func (c Code) Message() string {
	if i, ok := table[c]; ok {
		return i.msg
	}
	return "Unknown error"
}

// GRPC is the gRPC code clients get.
func (c Code) GRPC() codes.Code {
	if i, ok := table[c]; ok {
		return i.grpc
	}
	return codes.Unknown
}

// HTTP is the HTTP status clients get.
func (c Code) HTTP() int {
	if i, ok := table[c]; ok && i.http != 0 {
		return i.http
	}
	return http.StatusInternalServerError
}

// From returns err as an *Error; anything else becomes InternalError with
// the cause kept for logging.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: InternalError, Err: err}
}

// Is reports whether err is an *Error of code c.
func Is(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}

// GRPCStatus converts any error to a gRPC status error.
func GRPCStatus(err error) error {
	e := From(err)
	return status.Error(e.Code.GRPC(), e.Error())
}
