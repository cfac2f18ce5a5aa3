package integration

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of integration/testdata/golden")

// TestGoldenMetadataAndStatus compares the status and metadata JSON of the
// test models, byte for byte, with golden files checked against OVMS's
// formats (TFS status in snake_case and TFS metadata as protobuf JSON, both
// pretty-printed with one-space indents as OVMS prints them; KServe JSON
// compact). Run with -update to rewrite them after a deliberate change, and
// review the diff.
func TestGoldenMetadataAndStatus(t *testing.T) {
	version := regexp.MustCompile(`"version":"[^"]*"`)
	for _, model := range []string{"dummy", "add_two_inputs", "dummy_dynamic", "scalar", "passthrough_u8", "string_passthrough"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, model)
			for _, c := range []struct{ file, path string }{
				{"tfs_status", "/v1/models/" + model},
				{"tfs_status_v1", "/v1/models/" + model + "/versions/1"},
				{"tfs_metadata", "/v1/models/" + model + "/metadata"},
				{"kserve_metadata", "/v2/models/" + model},
				{"kserve_metadata_v1", "/v2/models/" + model + "/versions/1"},
			} {
				code, body := get(t, s.url(c.path))
				if code != 200 {
					t.Errorf("%s: %d %s", c.path, code, body)
					continue
				}
				golden(t, model+"."+c.file+".json", body)
			}
			code, body := post(t, s.url("/v2/repository/index"), "")
			if code != 200 {
				t.Fatalf("index: %d %s", code, body)
			}
			golden(t, model+".repository_index.json", body)
			if model == "dummy" {
				code, body = get(t, s.url("/v2"))
				if code != 200 {
					t.Fatalf("/v2: %d %s", code, body)
				}
				golden(t, "server_metadata.json", version.ReplaceAllString(body, `"version":"VERSION"`))
			}
		})
	}
}

// golden compares got with testdata/golden/name (or writes it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./integration -run TestGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file\n--- got\n%s\n--- want\n%s", name, got, strings.TrimSpace(string(want)))
	}
}
