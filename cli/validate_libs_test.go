package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad custom_node_library_config_list entry is reported as a library
// problem, not as a model that would not load.
func TestValidateLibraryProblem(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"model_config_list": [], "custom_node_library_config_list": [
		{"name": "a", "base_path": "/bin/true"}, {"name": "a", "base_path": "/bin/true"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"ovms", "validate", cfg}, &out, &errOut)
	if code != 1 || strings.Contains(out.String()+errOut.String(), "model") || !strings.Contains(out.String(), "Duplicated custom node library names") ||
		!strings.Contains(errOut.String(), "custom node librar") {
		t.Errorf("validate: exit %d\nstdout: %s\nstderr: %s", code, &out, &errOut)
	}
}
