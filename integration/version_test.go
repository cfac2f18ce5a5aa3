package integration

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// releaseVersion is a release version as ovms reports it: vMAJOR.MINOR.PATCH,
// then git describe's distance and hash when built past a tag, or +hash
// when the clone has no tag, and -dirty for uncommitted changes.
var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9]+-g[0-9a-f]{7,})?(\+[0-9a-f]{7,})?(-dirty)?$`)

// TestReleaseVersion: GET /v2, gRPC ServerMetadata, `ovms --version` and
// the CPU plugin report one release version string (not a bare git hash),
// also for a binary built without make's -ldflags, as this suite builds it.
func TestReleaseVersion(t *testing.T) {
	code, out, _ := runOVMS(t, "--version")
	v := strings.TrimPrefix(strings.TrimSpace(out), "OpenVINO Model Server (ovms) ")
	if code != 0 || !releaseVersion.MatchString(v) {
		t.Fatalf("--version: exit %d %q; want a release version", code, out)
	}
	s := startServer(t, "dummy")
	code, body := get(t, s.url("/v2"))
	var md struct{ Name, Version string }
	if code != 200 || json.Unmarshal([]byte(body), &md) != nil || md.Version != v || md.Name != "OpenVINO Model Server" {
		t.Errorf("GET /v2: %d %s; want version %q", code, body, v)
	}
	sm, err := kpb.NewGRPCInferenceServiceClient(s.conn).ServerMetadata(ctx(t), &kpb.ServerMetadataRequest{})
	if err != nil || sm.Version != v {
		t.Errorf("ServerMetadata %v %v; want version %q", sm, err, v)
	}
	code, out, _ = runOVMS(t, "plugin", "inspect", "cpu")
	if code != 0 || !strings.Contains(out, `"version": "`+v+`"`) {
		t.Errorf("plugin inspect cpu: exit %d %s; want version %q", code, out, v)
	}
}
