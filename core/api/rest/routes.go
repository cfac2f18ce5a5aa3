package rest

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/security"
)

// The URL patterns of OVMS's HttpRestApiHandler (std::regex_match, so
// anchored here). The leading (.?) of the TFS patterns is OVMS's too.
var (
	rePredict      = regexp.MustCompile(`^(.?)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/(\w+)))?:(classify|regress|predict)$`)
	reModelStatus  = regexp.MustCompile(`^(.?)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/(\w+)))?(?:/(metadata))?$`)
	reConfigReload = regexp.MustCompile(`^(.?)/v1/config/reload$`)
	reConfigStatus = regexp.MustCompile(`^(.?)/v1/config$`)
	reKFSReady     = regexp.MustCompile(`^/v2/models/([^/]+)(?:/versions/([0-9]+))?(?:/(ready))$`)
	reKFSMetadata  = regexp.MustCompile(`^/v2/models/([^/]+)(?:/versions/([0-9]+))?(?:/)?$`)
	reKFSInfer     = regexp.MustCompile(`^/v2/models/([^/]+)(?:/versions/([0-9]+))?(?:/(infer))$`)
	reServerReady  = regexp.MustCompile(`^/v2/health/ready$`)
	reServerLive   = regexp.MustCompile(`^/v2/health/live$`)
	reServerMeta   = regexp.MustCompile(`^/v2$`)
	reMetrics      = regexp.MustCompile(`^(.?)/metrics(\?(.*))?$`)
	// The system shared-memory extension (Triton's paths), only routed
	// when the extension is on.
	reShmStatus     = regexp.MustCompile(`^/v2/systemsharedmemory(?:/region/([^/]+))?/status$`)
	reShmRegister   = regexp.MustCompile(`^/v2/systemsharedmemory/region/([^/]+)/register$`)
	reShmUnregister = regexp.MustCompile(`^/v2/systemsharedmemory(?:/region/([^/]+))?/unregister$`)
)

// routeKind names an endpoint.
type routeKind int

const (
	routePredict routeKind = iota + 1
	routeModelStatus
	routeModelMetadata
	routeConfigReload
	routeConfigStatus
	routeKFSInfer
	routeKFSReady
	routeKFSMetadata
	routeServerReady
	routeServerLive
	routeServerMetadata
	routeMetrics
	routeShmStatus
	routeShmRegister
	routeShmUnregister
	routeRepoIndex
	routeRepoLoad
	routeRepoUnload
)

// routeClass is the API key class of an endpoint: the server health
// checks and /metrics are open; reload, repository load/unload and the
// shared-memory extension are control endpoints; the rest (inference,
// model and server metadata and status, GET /v1/config, the repository
// index) are inference endpoints.
func routeClass(k routeKind) security.Class {
	switch k {
	case routeServerLive, routeServerReady, routeMetrics:
		return security.Open
	case routeConfigReload, routeRepoLoad, routeRepoUnload, routeShmStatus, routeShmRegister, routeShmUnregister:
		return security.Control
	}
	return security.Inference
}

// route is a resolved request: the endpoint and its URL parameters.
type route struct {
	kind    routeKind
	model   string // URL-decoded
	version int64  // 0 = default
	method  string // TFS processing method: predict, classify or regress
	// headerLength is Inference-Header-Content-Length (infer), -1 if absent.
	headerLength int
	// region is the shared-memory region name of the extension's paths.
	region string
}

// resolve maps a method and raw path to an endpoint exactly as OVMS's
// parseRequestComponents does: methods other than GET and POST, and known
// paths with the other method, give REST_UNSUPPORTED_METHOD; unknown paths
// REST_INVALID_URL; a path escaping with ".." PATH_INVALID (checked first).
//
// With shm set, the system shared-memory extension's paths are routed too.
func resolve(method, path string, header http.Header, shm bool) (route, error) {
	if pathEscaped(path) {
		return route{}, apierr.New(apierr.PathInvalid)
	}
	if shm {
		if r, ok, err := resolveShm(method, path); ok {
			return r, err
		}
	}
	if r, ok, err := resolveRepo(method, path); ok {
		return r, err
	}
	switch method {
	case http.MethodPost:
		return resolvePost(path, header)
	case http.MethodGet:
		return resolveGet(path)
	}
	return route{}, apierr.New(apierr.RestUnsupportedMethod)
}

func resolvePost(path string, header http.Header) (route, error) {
	if m := rePredict.FindStringSubmatch(path); m != nil {
		r := route{kind: routePredict, model: urlDecode(m[2]), method: m[5]}
		var err error
		r.version, err = parseVersion(m[3])
		return r, err
	}
	if m := reKFSInfer.FindStringSubmatch(path); m != nil {
		r := route{kind: routeKFSInfer, model: urlDecode(m[1]), headerLength: -1}
		var err error
		if r.version, err = parseVersion(m[2]); err != nil {
			return r, err
		}
		r.headerLength, err = parseHeaderLength(header)
		return r, err
	}
	if reConfigReload.MatchString(path) {
		return route{kind: routeConfigReload}, nil
	}
	for _, re := range []*regexp.Regexp{reModelStatus, reServerLive, reConfigStatus, reServerReady, reServerMeta, reKFSMetadata, reKFSReady, reMetrics} {
		if re.MatchString(path) {
			return route{}, apierr.New(apierr.RestUnsupportedMethod)
		}
	}
	return route{}, apierr.New(apierr.RestInvalidURL)
}

func resolveGet(path string) (route, error) {
	if m := reModelStatus.FindStringSubmatch(path); m != nil {
		r := route{kind: routeModelStatus, model: urlDecode(m[2])}
		if m[5] == "metadata" {
			r.kind = routeModelMetadata
		}
		var err error
		r.version, err = parseVersion(m[3])
		return r, err
	}
	switch {
	case reConfigStatus.MatchString(path):
		return route{kind: routeConfigStatus}, nil
	case reServerLive.MatchString(path):
		return route{kind: routeServerLive}, nil
	case reServerReady.MatchString(path):
		return route{kind: routeServerReady}, nil
	case reServerMeta.MatchString(path):
		return route{kind: routeServerMetadata}, nil
	}
	if m := reKFSMetadata.FindStringSubmatch(path); m != nil {
		r := route{kind: routeKFSMetadata, model: urlDecode(m[1])}
		var err error
		r.version, err = parseVersion(m[2])
		return r, err
	}
	if m := reKFSReady.FindStringSubmatch(path); m != nil {
		r := route{kind: routeKFSReady, model: urlDecode(m[1])}
		var err error
		r.version, err = parseVersion(m[2])
		return r, err
	}
	if rePredict.MatchString(path) || reKFSInfer.MatchString(path) || reConfigReload.MatchString(path) {
		return route{}, apierr.New(apierr.RestUnsupportedMethod)
	}
	if reMetrics.MatchString(path) {
		return route{kind: routeMetrics}, nil
	}
	return route{}, apierr.New(apierr.RestInvalidURL)
}

// parseVersion is OVMS's parseModelVersion for a \d+ match: "" is the
// default; a number past int64 is MODEL_VERSION_MISSING.
func parseVersion(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, apierr.New(apierr.ModelVersionMissing)
	}
	return v, nil
}

// parseHeaderLength reads Inference-Header-Content-Length as OVMS does
// (std::stoi: leading spaces, a sign and digits, anything after ignored);
// a value that is not a number, past int32 or negative is invalid.
func parseHeaderLength(h http.Header) (int, error) {
	vals := h.Values("Inference-Header-Content-Length")
	if len(vals) == 0 {
		return -1, nil
	}
	s := strings.TrimLeft(vals[len(vals)-1], " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	invalid := apierr.New(apierr.RestInferenceHeaderContentLengthInvalid)
	if j == i {
		return 0, invalid
	}
	v, err := strconv.ParseInt(s[:j], 10, 32)
	if err != nil || v < 0 {
		return 0, invalid
	}
	return int(v), nil
}

// pathEscaped is OVMS's FileSystem::isPathEscaped.
func pathEscaped(p string) bool {
	rhs := strings.Index(p, "/..")
	return strings.HasPrefix(p, "../") || (rhs >= 0 && rhs == len(p)-3) || strings.Contains(p, "/../")
}

// urlDecode is OVMS's urlDecode: %XX sequences only ('+' stays), an
// invalid or truncated escape is kept as is.
func urlDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// resolveShm routes the system shared-memory extension's paths.
func resolveShm(method, path string) (route, bool, error) {
	routes := []struct {
		re     *regexp.Regexp
		kind   routeKind
		method string
	}{
		{reShmStatus, routeShmStatus, http.MethodGet},
		{reShmRegister, routeShmRegister, http.MethodPost},
		{reShmUnregister, routeShmUnregister, http.MethodPost},
	}
	for _, rt := range routes {
		m := rt.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		if method != rt.method {
			return route{}, true, apierr.New(apierr.RestUnsupportedMethod)
		}
		return route{kind: rt.kind, region: urlDecode(m[1])}, true, nil
	}
	return route{}, false, nil
}
