package rest

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/ovmsgo/ovms/core/api/grpc/tfs"
	"github.com/ovmsgo/ovms/core/apierr"
)

// ConfigReloader re-reads the server's configuration (POST
// /v1/config/reload): the config file when it changed, then every model's
// version folders. reloaded reports whether anything was loaded or
// unloaded. Errors are *ReloadError.
type ConfigReloader interface {
	Reload(ctx context.Context) (reloaded bool, err error)
}

// ReloadError is a failed reload, with OVMS's message for the step that
// failed and the cause, whose apierr code gives the HTTP status.
type ReloadError struct {
	// Message is e.g. "Reloading config file failed. Check server logs for
	// more info.".
	Message string
	// Err is the cause.
	Err error
}

// The messages of OVMS's processConfigReloadRequest.
const (
	ReloadFileMissing    = "Config file not found or cannot open."
	ReloadConfigFailed   = "Reloading config file failed. Check server logs for more info."
	ReloadVersionsFailed = "Reloading models versions failed. Check server logs for more info."
)

// Error is the message and the cause.
func (e *ReloadError) Error() string { return e.Message + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ReloadError) Unwrap() error { return e.Err }

// configReload is POST /v1/config/reload: 201 and every model's status
// when something was reloaded, 200 when nothing needed it; on failure
// OVMS's tab-indented error object.
func (s *Server) configReload(w http.ResponseWriter, r *http.Request) {
	if s.reloader == nil {
		s.fail(w, r, apierr.New(apierr.RestInvalidURL))
		return
	}
	reloaded, err := s.reloader.Reload(r.Context())
	if err != nil {
		msg := ReloadConfigFailed
		if re, ok := err.(*ReloadError); ok {
			msg = re.Message
		}
		s.log.WithError(err).Error("config reload failed")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(apierr.From(err).Code.HTTP())
		_, _ = w.Write([]byte("{\n\t\"error\": \"" + msg + "\"\n}"))
		return
	}
	code := http.StatusOK
	if reloaded {
		code = http.StatusCreated
	}
	s.writeStatuses(w, code)
}

// configStatus is GET /v1/config: every model's status.
func (s *Server) configStatus(w http.ResponseWriter, r *http.Request) {
	if s.reloader == nil {
		s.fail(w, r, apierr.New(apierr.RestInvalidURL))
		return
	}
	s.writeStatuses(w, http.StatusOK)
}

// writeStatuses writes OVMS's aggregated status map: {"<name>" : <the
// model's GetModelStatus JSON>, ...} in name order, "{}" when empty.
func (s *Server) writeStatuses(w http.ResponseWriter, code int) {
	var b bytes.Buffer
	n := 0
	for _, mod := range s.models.Servables() {
		resp, err := tfs.Status(s.models, mod.Name, 0)
		if err != nil {
			continue // as OVMS: a model without a status is left out
		}
		var one bytes.Buffer
		if err := WriteModelStatus(&one, resp); err != nil {
			continue
		}
		if n == 0 {
			b.WriteString("{\n")
		} else {
			b.WriteString(",\n")
		}
		b.WriteString(strconv.Quote(mod.Name) + " : \n")
		b.WriteString(strings.TrimSuffix(one.String(), "\n"))
		n++
	}
	if n == 0 {
		b.WriteString("{}")
	} else {
		b.WriteString("\n}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}
