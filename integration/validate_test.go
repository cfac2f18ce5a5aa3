package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/integration/storageservers"
)

// TestValidateChecksBasePaths: `ovms validate` fails a config whose base
// paths do not exist or hold no version, naming each model and why, as
// serving would fail it; the file may be given as an argument.
func TestValidateChecksBasePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "afile"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "dummy", "base_path": "`+filepath.Join(modelsDir, "dummy")+`"}},
		{"config": {"name": "missing", "base_path": "no/such/dir"}},
		{"config": {"name": "empty", "base_path": "empty"}},
		{"config": {"name": "notdir", "base_path": "afile"}},
		{"config": {"name": "old", "base_path": "`+filepath.Join(modelsDir, "dummy")+`", "model_version_policy": {"specific": {"versions": [7]}}}}
	]}`)
	code, out, stderr := runOVMS(t, "validate", cfg)
	for _, want := range []string{
		`error: model "missing": base_path ` + filepath.Join(dir, "no/such/dir") + `: The provided base path is invalid or doesn't exists`,
		`error: model "empty": no version folder in ` + filepath.Join(dir, "empty"),
		`error: model "notdir": base_path ` + filepath.Join(dir, "afile") + `: The provided base path is invalid or doesn't exists`,
		`error: model "old": the version policy selects none of the versions found (1)`,
		cfg + ": 4 of 5 models would not load",
	} {
		if !strings.Contains(out+stderr, want) {
			t.Errorf("validate lacks %q:\n%s%s", want, out, stderr)
		}
	}
	if code != 1 || strings.Contains(out+stderr, `model "dummy"`) {
		t.Errorf("validate: exit %d\n%s%s", code, out, stderr)
	}

	// One problem: singular.
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "m", "base_path": "m", "nireq": -1}}]}`)
	code, out, stderr = runOVMS(t, "validate", cfg)
	if code != 1 || !strings.Contains(out+stderr, cfg+": invalid (1 problem); ovms would not start with it") {
		t.Errorf("one problem: exit %d\n%s%s", code, out, stderr)
	}
	// The docs' example: three models, all present.
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "a", "base_path": "`+filepath.Join(modelsDir, "dummy")+`"}},
		{"config": {"name": "b", "base_path": "`+filepath.Join(modelsDir, "add_two_inputs")+`"}},
		{"config": {"name": "c", "base_path": "`+filepath.Join(modelsDir, "scalar")+`"}}
	]}`)
	if code, out, stderr = runOVMS(t, "validate", cfg); code != 0 || !strings.Contains(out, cfg+": valid, 3 models") {
		t.Errorf("valid: exit %d\n%s%s", code, out, stderr)
	}
}

// TestValidateCheckStorage: remote base paths are listed only with
// --check_storage; a missing bucket or prefix then fails the model.
func TestValidateCheckStorage(t *testing.T) {
	srv, err := storageservers.StartS3()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := context.Background()
	if err := srv.CreateBucket(c, "models"); err != nil {
		t.Fatal(err)
	}
	if err := storageservers.UploadDir(c, srv, filepath.Join(modelsDir, "dummy", "1"), "models", "dummy/1"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "good", "base_path": "s3://models/dummy"}},
		{"config": {"name": "noprefix", "base_path": "s3://models/nothing"}},
		{"config": {"name": "nobucket", "base_path": "s3://no-bucket/dummy"}}
	]}`)
	env := srv.Env()
	code, out, stderr := runOVMSEnv(t, env, "validate", cfg)
	if code != 0 || !strings.Contains(out, "not checked") || !strings.Contains(out, "--check_storage") {
		t.Errorf("without --check_storage: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runOVMSEnv(t, env, "validate", "--check_storage", cfg)
	for _, want := range []string{
		`error: model "noprefix": base_path s3://models/nothing: The provided base path is invalid or doesn't exists`,
		`error: model "nobucket": base_path s3://no-bucket/dummy: The provided base path is invalid or doesn't exists`,
		cfg + ": 2 of 3 models would not load",
	} {
		if !strings.Contains(out+stderr, want) {
			t.Errorf("--check_storage lacks %q:\n%s%s", want, out, stderr)
		}
	}
	if code != 1 || strings.Contains(out, `model "good"`) {
		t.Errorf("--check_storage: exit %d\n%s%s", code, out, stderr)
	}
}

// runOVMSEnv is runOVMS with extra environment variables.
func runOVMSEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return runOVMS(t, args...)
}
