package rest

import "github.com/ovmsgo/ovms/core/apierr"

// errorStatus is the HTTP status and client message of any error.
func errorStatus(err error) (int, string) {
	e := apierr.From(err)
	return e.Code.HTTP(), e.Error()
}
