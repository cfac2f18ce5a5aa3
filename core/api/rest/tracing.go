package rest

import (
	"net/http"

	"github.com/ovmsgo/ovms/core/tracing"
)

// startSpan starts the API trace span of an inference request (KServe
// infer or TFS predict) when tracing is on; the returned request carries
// it in its context, and fail marks it failed.
func startSpan(r *http.Request, rt route) (*http.Request, tracing.Span) {
	if !tracing.On() {
		return r, tracing.Span{}
	}
	api, path := tracing.KServe, "/v2/models/{model_name}/infer"
	switch {
	case rt.kind == routePredict && rt.version > 0:
		api, path = tracing.TFS, "/v1/models/{model_name}/versions/{model_version}:"+rt.method
	case rt.kind == routePredict:
		api, path = tracing.TFS, "/v1/models/{model_name}:"+rt.method
	case rt.version > 0:
		path = "/v2/models/{model_name}/versions/{model_version}/infer"
	}
	r, sp := tracing.StartHTTP(r, path, api)
	sp.Model(rt.model, rt.version)
	return r, sp
}
