// Package rest serves the HTTP API of ovms the way OVMS v2026.2 does: the
// TensorFlow Serving REST API (/v1/models/...) and the KServe v2 REST API
// (/v2/...), with OVMS's routing, error bodies, status codes and
// byte-exact JSON. It uses net/http only; the JSON is produced by package
// rjson, which reproduces RapidJSON and TF Serving output.
package rest

import (
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/clientshm"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/security"
	"github.com/ovmsgo/ovms/core/tracing"
)

// MaxBodyBytes is the largest request body accepted (OVMS's Drogon
// client_max_body_size).
const MaxBodyBytes = 1 << 30

// Server is the REST API handler. Configure it with the Handle* methods
// before it serves; it is then safe for concurrent use.
type Server struct {
	models   *modelmanager.Manager
	version  string
	log      *logrus.Entry
	reloader ConfigReloader
	metrics  http.Handler
	shm      *clientshm.Registry // nil: the shared-memory extension is off
	limits   Limits
	auth     *security.Authorizer // nil: API keys are off
}

// New returns the REST API of the models; version is what GET /v2
// reports.
func New(models *modelmanager.Manager, version string, log *logrus.Entry) *Server {
	return &Server{models: models, version: version, log: log}
}

// EnableConfig serves POST /v1/config/reload (through r) and GET
// /v1/config. Without it those paths answer 400 "Invalid request URL".
func (s *Server) EnableConfig(r ConfigReloader) { s.reloader = r }

// EnableClientShm turns on the system shared-memory extension with the
// given registry (shared with the gRPC API). Off by default, as in OVMS:
// its paths then answer 400 "Invalid request URL".
func (s *Server) EnableClientShm(reg *clientshm.Registry) { s.shm = reg }

// RequireAPIKeys checks the API keys of requests with a (nil: off, the
// default). docs/security.md lists the endpoints of each class.
func (s *Server) RequireAPIKeys(a *security.Authorizer) { s.auth = a }

// HandleMetrics installs the handler of GET /metrics. Without it the path
// answers 400 "Invalid request URL", as OVMS does with metrics disabled.
func (s *Server) HandleMetrics(h http.Handler) { s.metrics = h }

// statusWriter remembers whether a response was started.
type statusWriter struct {
	http.ResponseWriter
	started bool
}

// WriteHeader sends the status line and headers.
func (w *statusWriter) WriteHeader(code int) {
	w.started = true
	w.ResponseWriter.WriteHeader(code)
}

// Write sends body bytes.
func (w *statusWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP answers one request. A panic is logged and answered with 500
// "Internal server error" when nothing was sent yet.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if s.limits.ReadTimeout > 0 && r.ContentLength != 0 {
		// A body is read within the read timeout (readBody moves the
		// deadline on as it arrives): also the one a handler leaves
		// unread, which net/http reads on to reuse the connection.
		_ = http.NewResponseController(rw).SetReadDeadline(time.Now().Add(s.limits.ReadTimeout))
	}
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		s.log.WithFields(logrus.Fields{"panic": fmt.Sprint(p), "method": r.Method, "path": r.URL.Path, "stack": string(debug.Stack())}).
			Error("REST request handler panicked")
		if !w.started {
			writeError(w, apierr.New(apierr.InternalError))
		}
	}()
	s.serve(w, r)
}

// requestPath is the path as the client sent it (still URL-encoded),
// without the query.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if !strings.HasPrefix(p, "/") {
		p = r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rt, err := resolve(r.Method, requestPath(r), r.Header, s.shm != nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.auth != nil {
		if err := s.auth.Authorize(routeClass(rt.kind), r.Header.Get("Authorization")); err != nil {
			if apierr.Is(err, apierr.Unauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ovms"`)
			}
			s.fail(w, r, err)
			return
		}
	}
	switch rt.kind {
	case routePredict:
		if rt.method != "predict" {
			s.fail(w, r, apierr.New(apierr.RestNotFound))
			return
		}
		s.predict(w, r, rt)
	case routeModelStatus:
		s.modelStatus(w, r, rt)
	case routeModelMetadata:
		s.modelMetadata(w, r, rt)
	case routeKFSInfer:
		s.infer(w, r, rt)
	case routeKFSReady:
		s.modelReady(w, r, rt)
	case routeKFSMetadata:
		s.kserveMetadata(w, r, rt)
	case routeServerLive:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	case routeServerReady:
		if !s.models.Ready() {
			s.fail(w, r, apierr.New(apierr.ModelNotLoaded))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	case routeServerMetadata:
		s.writeJSON(w, r, func(out io.Writer) error { return WriteServerMetadata(out, serverName, s.version) })
	case routeConfigReload:
		s.configReload(w, r)
	case routeConfigStatus:
		s.configStatus(w, r)
	case routeMetrics:
		s.delegate(w, r, s.metrics)
	case routeShmStatus, routeShmRegister, routeShmUnregister:
		s.sharedMemory(w, r, rt)
	case routeRepoIndex, routeRepoLoad, routeRepoUnload:
		s.repository(w, r, rt)
	}
}

func (s *Server) delegate(w http.ResponseWriter, r *http.Request, h http.Handler) {
	if h == nil {
		s.fail(w, r, apierr.New(apierr.RestInvalidURL))
		return
	}
	h.ServeHTTP(w, r)
}

// writeJSON answers 200 with a JSON body from write, or the error write
// returns before it wrote anything.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, write func(io.Writer) error) {
	w.Header().Set("Content-Type", "application/json")
	sw := &statusWriter{ResponseWriter: w}
	if err := write(sw); err != nil {
		if !sw.started {
			s.fail(w, r, err)
			return
		}
		s.log.WithError(err).WithField("path", r.URL.Path).Debug("writing REST response failed")
	}
}

// fail answers an error as OVMS does and logs it at debug level.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := writeError(w, err)
	if sp := tracing.FromContext(r.Context()); sp.On() {
		_, msg := errorStatus(err)
		sp.FailHTTP(status, msg)
	}
	if s.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		s.log.WithError(err).WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path, "status": status}).
			Debug("processing REST request failed")
	}
}

// writeError writes {"error":"<message>"} (compact, RapidJSON escaping)
// with the status of the error, and returns the status.
func writeError(w http.ResponseWriter, err error) int {
	status, msg := errorStatus(err)
	body := make([]byte, 0, len(msg)+16)
	body = append(body, `{"error":`...)
	body = rjson.AppendString(body, cBytes([]byte(msg)))
	body = append(body, '}')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}
