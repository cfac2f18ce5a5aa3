package rest

import (
	"io"
	"net/http"
	"strconv"

	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
)

// serverName is what GET /v2 reports.
const serverName = kserve.ServerName

// infer is POST /v2/models/{m}[/versions/{n}]/infer. As in OVMS the body
// is parsed (with its binary inputs) before the model is looked up; the
// parser is given the shapes of the version if it is available now, to
// stop keeping values past them.
func (s *Server) infer(w http.ResponseWriter, r *http.Request, rt route) {
	start := metrics.Now()
	r, sp := startSpan(r, rt)
	defer sp.End()
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer body.release()
	peek, _ := s.models.Available(rt.model, rt.version)
	req, err := parseReceived(body, rt.headerLength, s.parseLimits(peek))
	if err != nil {
		version := rt.version
		if peek != nil {
			version = peek.Number
		}
		s.fail(w, r, tensor.NameModel(err, rt.model, version))
		return
	}
	v, err := s.models.Acquire(r.Context(), rt.model, rt.version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer v.Release()
	sp.Version(v.Number)
	met, ok := v.Metrics(), false
	met.Begin()
	defer func() { met.End(metrics.KServeRESTModelInfer, start, ok) }()
	if err := v.ValidateInputCount(req.NumInputs(), req.InputName); err != nil {
		s.fail(w, r, err)
		return
	}
	inputs, held, err := req.Inputs(s.shm)
	if err != nil {
		s.fail(w, r, tensor.NameModel(err, v.Model, v.Number))
		return
	}
	defer held.Release()
	placements, heldOut, err := kserve.Placements(req.Outputs(), s.shm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer heldOut.Release()
	treq := &tensor.Request{API: tensor.KServe, Inputs: inputs, Placements: placements}
	if treq.Sequence, err = kserve.SequenceParams(req.Parameters); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, o := range req.Outputs() {
		treq.Outputs = append(treq.Outputs, o.GetName())
	}
	resp, err := v.Infer(r.Context(), treq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer resp.Release()
	servedBinary(v, req.BinaryOutputs)
	enc, err := EncodeInfer(resp, req.ID, req.BinaryOutputs, placements)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n, ok := enc.HeaderLength(); ok {
		w.Header().Set("Inference-Header-Content-Length", strconv.Itoa(n))
	}
	w.Header().Set("Content-Type", "application/json")
	ok = true
	if _, err := enc.WriteTo(w); err != nil {
		s.log.WithError(err).WithField("path", r.URL.Path).Debug("writing REST response failed")
	}
}

// parseReceived parses a received infer body: the JSON, then binary inputs
// that stay views of the body's chunks.
func parseReceived(b *body, jsonLength int, lim ParseLimits) (*InferRequest, error) {
	if jsonLength < 0 {
		return parseInferBody(b.Bytes(), contiguous(nil), lim)
	}
	if jsonLength > b.Len() {
		return nil, apierr.New(apierr.RestInferenceHeaderContentLengthExceeded)
	}
	return parseInferBody(b.Prefix(jsonLength), b.Tail(jsonLength), lim)
}

// modelReady is GET /v2/models/{m}[/versions/{n}]/ready: 200 with an empty
// body when the version is AVAILABLE, else "not loaded yet" (404).
func (s *Server) modelReady(w http.ResponseWriter, r *http.Request, rt route) {
	mod, err := s.models.Model(rt.model)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := mod.Resolve(rt.version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if st, _ := v.Status(); st != modelmanager.StateAvailable {
		v.Metrics().Count(metrics.KServeRESTModelReady, false)
		s.fail(w, r, apierr.New(apierr.ModelVersionNotLoadedYet))
		return
	}
	v.Metrics().Count(metrics.KServeRESTModelReady, true)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
}

// kserveMetadata is GET /v2/models/{m}[/versions/{n}][/].
func (s *Server) kserveMetadata(w http.ResponseWriter, r *http.Request, rt route) {
	v, err := s.models.Available(rt.model, rt.version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Metrics().Count(metrics.KServeRESTModelMetadata, true)
	md := kserve.Metadata(s.models, v)
	s.writeJSON(w, r, func(out io.Writer) error { return WriteKServeMetadata(out, md, v.Info().RTInfo) })
}

// servedBinary renames, in place, the binary_data requests of outputs named
// by an alias to the outputs' served names, which the response carries.
func servedBinary(v *modelmanager.Version, m map[string]bool) {
	for name, b := range m {
		if s := v.ServedOutputName(name); s != name {
			if _, taken := m[s]; !taken {
				m[s] = b
			}
			delete(m, name)
		}
	}
}
