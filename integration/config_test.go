package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// repoWithVersions copies the generated model into dir/name with the given
// version folders.
func repoWithVersions(t *testing.T, dir, model, name string, versions ...int) string {
	t.Helper()
	base := filepath.Join(dir, name)
	for _, v := range versions {
		addVersion(t, base, model, v)
	}
	return base
}

// addVersion copies the generated model's version 1 into base/v.
func addVersion(t *testing.T, base, model string, v int) {
	t.Helper()
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(base, fmt.Sprintf(".tmp-%d", v))
	if out, err := exec.Command("cp", "-r", filepath.Join(modelsDir, model, "1"), tmp).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := os.Rename(tmp, filepath.Join(base, fmt.Sprint(v))); err != nil { // appear at once
		t.Fatal(err)
	}
}

// writeConfig writes config.json atomically (a rename, as deploy tools do).
func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// versionStates reads GET /v1/config as model -> "version:STATE ...".
func versionStates(t *testing.T, s *server) map[string]string {
	t.Helper()
	code, body := get(t, s.url("/v1/config"))
	if code != 200 {
		t.Fatalf("/v1/config: %d %s", code, body)
	}
	var all map[string]struct {
		ModelVersionStatus []struct{ Version, State string } `json:"model_version_status"`
	}
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := map[string]string{}
	for name, st := range all {
		var parts []string
		for _, v := range st.ModelVersionStatus {
			parts = append(parts, v.Version+":"+v.State)
		}
		out[name] = strings.Join(parts, " ")
	}
	return out
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in 10 s; last state: %s", what, last)
}

func dummyInfer(t *testing.T, s *server, model, version string) error {
	t.Helper()
	_, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: model, ModelVersion: version,
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
	return err
}

// TestConfigFileModelsPoliciesAndReload serves several models from a
// config.json with relative base paths and the three version policies,
// then changes the file and the version folders while the server runs.
func TestConfigFileModelsPoliciesAndReload(t *testing.T) {
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "latest2", 1, 2, 3)
	repoWithVersions(t, dir, "dummy", "specific", 1, 2, 3)
	repoWithVersions(t, dir, "dummy", "all", 1, 2)
	repoWithVersions(t, dir, "add_two_inputs", "add", 1)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "latest2", "base_path": "latest2", "model_version_policy": {"latest": {"num_versions": 2}}}},
		{"config": {"name": "specific", "base_path": "./specific", "model_version_policy": {"specific": {"versions": [1, 3, 7]}}}},
		{"config": {"name": "all", "base_path": "`+filepath.Join(dir, "all")+`", "model_version_policy": {"all": {}}}},
		{"config": {"name": "add", "base_path": "add"}},
		{"config": {"name": "broken", "base_path": "missing"}}
	]}`)
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")

	want := map[string]string{"latest2": "2:AVAILABLE 3:AVAILABLE", "specific": "1:AVAILABLE 3:AVAILABLE", "all": "1:AVAILABLE 2:AVAILABLE", "add": "1:AVAILABLE", "broken": ""}
	if got := versionStates(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	// Versions outside the policy are not found; the default is the highest.
	if err := dummyInfer(t, s, "latest2", "1"); status.Convert(err).Message() != "Model with requested version is not found" {
		t.Errorf("latest2 v1: %v", err)
	}
	if err := dummyInfer(t, s, "specific", "2"); status.Code(err) != codes.NotFound {
		t.Errorf("specific v2: %v", err)
	}
	for _, m := range []string{"latest2", "specific", "all"} {
		if err := dummyInfer(t, s, m, ""); err != nil {
			t.Errorf("%s default version: %v", m, err)
		}
	}
	if err := dummyInfer(t, s, "broken", ""); status.Convert(err).Message() != "Model with requested version is not found" {
		t.Errorf("broken: %v", err)
	}

	// A new version folder is served and, under latest 2, retires version 2.
	addVersion(t, filepath.Join(dir, "latest2"), "dummy", 4)
	eventually(t, "version 4 of latest2", func() (bool, string) {
		st := versionStates(t, s)["latest2"]
		return st == "2:END 3:AVAILABLE 4:AVAILABLE", st
	})
	// A removed version folder is retired.
	if err := os.RemoveAll(filepath.Join(dir, "all", "2")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "version 2 of all removed", func() (bool, string) {
		st := versionStates(t, s)["all"]
		return st == "1:AVAILABLE 2:END", st
	})

	// A config change: add removed, all changed (reloads every version),
	// dummy2 added; an invalid file in between changes nothing.
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "latest2", "base_path": "latest2", "nireq": "x"}}]}`)
	time.Sleep(1500 * time.Millisecond)
	code, body := post(t, s.url("/v1/config/reload"), "")
	if code != 412 || body != "{\n\t\"error\": \"Reloading config file failed. Check server logs for more info.\"\n}" {
		t.Errorf("reload of an invalid config: %d %q", code, body)
	}
	if err := dummyInfer(t, s, "all", ""); err != nil {
		t.Errorf("all after an invalid config: %v", err)
	}
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "latest2", "base_path": "latest2", "model_version_policy": {"latest": {"num_versions": 2}}}},
		{"config": {"name": "specific", "base_path": "./specific", "model_version_policy": {"specific": {"versions": [1, 3, 7]}}}},
		{"config": {"name": "all", "base_path": "all", "model_version_policy": {"all": {}}, "nireq": 2}},
		{"config": {"name": "dummy2", "base_path": "latest2"}}
	]}`)
	code, body = post(t, s.url("/v1/config/reload"), "")
	if code != 201 || !strings.HasPrefix(body, "{\n\"add\" : \n{\n \"model_version_status\": [\n  {\n   \"version\": \"1\",\n   \"state\": \"END\"") {
		t.Errorf("reload: %d %s", code, body)
	}
	want = map[string]string{"latest2": "2:END 3:AVAILABLE 4:AVAILABLE", "specific": "1:AVAILABLE 3:AVAILABLE", "all": "1:AVAILABLE",
		"add": "1:END", "broken": "", "dummy2": "4:AVAILABLE"}
	if got := versionStates(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states after the reload %v, want %v", got, want)
	}
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 200 {
		t.Errorf("a reload with nothing to do: %d %s", code, body)
	}
	if err := dummyInfer(t, s, "add", ""); status.Code(err) != codes.NotFound {
		t.Errorf("a removed model: %v", err)
	}
	s.alive()
}

func TestConfigFileErrorsAtStartup(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "m", "base_path": "m", "nireq": -1}}]}`)
	code, _, stderr := runOVMS(t, "--config_path", cfg, "--port", "0", "--rest_port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "The file is not valid json: /model_config_list/0/config/nireq: minimum: got -1, want 0") {
		t.Errorf("an invalid config: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runOVMS(t, "--config_path", filepath.Join(dir, "nope.json"), "--rest_port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "Configuration file not found or cannot open") {
		t.Errorf("a missing config: exit %d, stderr %q", code, stderr)
	}
	// ovms validate prints every problem.
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "m", "base_path": "m", "nireq": -1, "x": 1}}, {"config": {"name": "m", "base_path": "n"}}]}`)
	code, stdout, _ := runOVMS(t, "validate", "--config_path", cfg)
	if code != 1 || !strings.Contains(stdout, "error: /model_config_list/0/config: additional properties 'x' not allowed") ||
		!strings.Contains(stdout, "error: /model_config_list/0/config/nireq: minimum: got -1, want 0") {
		t.Errorf("validate: exit %d\n%s", code, stdout)
	}
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "m", "base_path": "m"}}, {"config": {"name": "m", "base_path": "n"}}]}`)
	code, stdout, _ = runOVMS(t, "validate", "--config_path", cfg)
	if code != 1 || !strings.Contains(stdout, "Duplicated model names: m defined in config file") {
		t.Errorf("validate, duplicate: exit %d\n%s", code, stdout)
	}
	if err := os.Symlink(filepath.Join(modelsDir, "dummy"), filepath.Join(dir, "m")); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "m", "base_path": "m"}}]}`)
	if code, stdout, _ = runOVMS(t, "validate", "--config_path", cfg); code != 0 || !strings.Contains(stdout, "valid, 1 model\n") {
		t.Errorf("validate, good: exit %d\n%s", code, stdout)
	}
}

// TestMappingConfig renames dummy's tensors with mapping_config.json:
// metadata, requests and responses use the aliases.
func TestMappingConfig(t *testing.T) {
	dir := t.TempDir()
	base := repoWithVersions(t, dir, "dummy", "renamed", 1)
	if err := os.WriteFile(filepath.Join(base, "1", "mapping_config.json"), []byte(`{"inputs": {"b": "data"}, "outputs": {"a": "scores"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startAt(t, nil, "renamed", base)
	code, body := get(t, s.url("/v2/models/renamed"))
	if code != 200 || body != `{"name":"renamed","versions":["1"],"platform":"OpenVINO","inputs":[{"name":"data","datatype":"FP32","shape":[1,10]}],"outputs":[{"name":"scores","datatype":"FP32","shape":[1,10]}]}` {
		t.Fatalf("metadata: %d %s", code, body)
	}
	r := kserveREST(t, s, "renamed", `{"inputs":[{"name":"data","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}],"outputs":[{"name":"scores"}]}`)
	if len(r.Outputs) != 1 || r.Outputs[0].Name != "scores" || strings.ReplaceAll(string(r.Outputs[0].Data), " ", "") != "[2.0,3.0,4.0,5.0,6.0,7.0,8.0,9.0,10.0,11.0]" {
		t.Fatalf("infer: %+v", r)
	}
	_, err := kpb.NewGRPCInferenceServiceClient(s.conn).ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "renamed",
		Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
	if status.Convert(err).Message() != "Missing input with specific name - Required input: data" {
		t.Fatalf("the model's own name is not an API name: %v", err)
	}
}
