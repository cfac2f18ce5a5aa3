package rest

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
)

// The model repository extension's paths (Triton's), POST only.
var (
	reRepoIndex = regexp.MustCompile(`^/v2/repository/index$`)
	reRepoModel = regexp.MustCompile(`^/v2/repository/models/([^/]+)/(load|unload)$`)
)

// resolveRepo routes the model repository extension's paths; ok reports
// whether path is one of them.
func resolveRepo(method, path string) (r route, ok bool, err error) {
	kind, model := routeKind(0), ""
	if reRepoIndex.MatchString(path) {
		kind = routeRepoIndex
	} else if m := reRepoModel.FindStringSubmatch(path); m != nil {
		kind, model = routeRepoLoad, urlDecode(m[1])
		if m[2] == "unload" {
			kind = routeRepoUnload
		}
	} else {
		return route{}, false, nil
	}
	if method != http.MethodPost {
		return route{}, true, apierr.New(apierr.RestUnsupportedMethod)
	}
	return route{kind: kind, model: model}, true, nil
}

// repository serves index, load and unload.
func (s *Server) repository(w http.ResponseWriter, r *http.Request, rt route) {
	switch rt.kind {
	case routeRepoIndex:
		var opts struct {
			Ready bool `json:"ready"`
		}
		body, err := s.readSmallBody(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &opts); err != nil {
				s.fail(w, r, apierr.Newf(apierr.JSONInvalid, "the index request body must be a JSON object like {\"ready\": true}"))
				return
			}
		}
		entries := s.models.Index(opts.Ready)
		s.writeJSON(w, r, func(out io.Writer) error {
			jw := rjson.NewWriter(out)
			jw.StartArray()
			for _, e := range entries {
				jw.StartObject()
				jw.Key("name")
				jw.String(e.Name)
				if e.Version != "" {
					jw.Key("version")
					jw.String(e.Version)
				}
				jw.Key("state")
				jw.String(e.State)
				if e.Reason != "" {
					jw.Key("reason")
					jw.String(e.Reason)
				}
				jw.EndObject()
			}
			jw.EndArray()
			return jw.Flush()
		})
	case routeRepoLoad, routeRepoUnload:
		var err error
		if rt.kind == routeRepoLoad {
			err = s.models.LoadModel(r.Context(), rt.model)
		} else {
			err = s.models.UnloadModel(r.Context(), rt.model)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}
}
