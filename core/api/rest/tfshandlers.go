package rest

import (
	"io"
	"net/http"

	"github.com/ovmsgo/ovms/core/api/grpc/tfs"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/tensor"
)

// predict is POST /v1/models/{m}[/versions/{n}|/labels/{l}]:predict. As in
// OVMS the version is resolved (waiting for a loading one) before the
// body is parsed, and a version label is ignored.
func (s *Server) predict(w http.ResponseWriter, r *http.Request, rt route) {
	start := metrics.Now()
	r, sp := startSpan(r, rt)
	defer sp.End()
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer body.release()
	v, err := s.models.Acquire(r.Context(), rt.model, rt.version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer v.Release()
	sp.Version(v.Number)
	met, ok := v.Metrics(), false
	met.Begin()
	defer func() { met.End(metrics.TFSRESTPredict, start, ok) }()
	req, order, err := ParsePredict(body.Bytes(), v.Info().Inputs, s.parseLimits(v))
	if err != nil {
		s.fail(w, r, tensor.NameModel(err, v.Model, v.Number))
		return
	}
	resp, err := v.Infer(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer resp.Release()
	ok = true
	s.writeJSON(w, r, func(out io.Writer) error { return WritePredict(out, resp, order) })
}

// modelStatus is GET /v1/models/{m}[/versions/{n}].
func (s *Server) modelStatus(w http.ResponseWriter, r *http.Request, rt route) {
	resp, err := tfs.Status(s.models, rt.model, rt.version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, r, func(out io.Writer) error { return WriteModelStatus(out, resp) })
}

// modelMetadata is GET /v1/models/{m}[/versions/{n}]/metadata: the version
// must be AVAILABLE now (no waiting).
func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request, rt route) {
	v, err := s.models.Available(rt.model, rt.version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	info := v.Info()
	v.Metrics().Count(metrics.TFSRESTGetModelMetadata, true)
	s.writeJSON(w, r, func(out io.Writer) error {
		return WriteModelMetadata(out, v.Model, v.Number, info.Inputs, info.Outputs)
	})
}
