package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// The custom loader tests build the loaders into binDir once, beside ovms,
// where a bare library_path finds them.
var (
	loadersOnce sync.Once
	loadersErr  error
)

func buildLoaders(t *testing.T) {
	t.Helper()
	loadersOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			loadersErr = err
			return
		}
		for _, l := range []string{"example", "aesgcm"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "ovms-loader-"+l), "./loaders/"+l)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				loadersErr = fmt.Errorf("building loaders/%s: %v\n%s", l, err, out)
				return
			}
		}
	})
	if loadersErr != nil {
		t.Fatal(loadersErr)
	}
}

// loaderPid is the pid of the ovms-loader-<name> child of s (0: none).
func loaderPid(t *testing.T, s *server, name string) int {
	t.Helper()
	for _, c := range children(t, s.cmd.Process.Pid) {
		if filepath.Base(exe(c)) == "ovms-loader-"+name && !gone(c) {
			return c
		}
	}
	return 0
}

// inferRaw runs model on deterministic inputs shaped by its metadata
// (dynamic dims as 1) over KServe gRPC and returns the raw outputs by name.
func inferRaw(t *testing.T, s *server, model string) map[string][]byte {
	t.Helper()
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	md, err := c.ModelMetadata(ctx(t), &kpb.ModelMetadataRequest{Name: model})
	if err != nil {
		t.Fatalf("%s metadata: %v", model, err)
	}
	size := map[string]int{"FP32": 4, "INT32": 4, "INT64": 8, "FP64": 8, "UINT8": 1, "INT8": 1, "FP16": 2}
	req := &kpb.ModelInferRequest{ModelName: model}
	for _, in := range md.Inputs {
		shape := make([]int64, len(in.Shape))
		n := 1
		for i, d := range in.Shape {
			shape[i] = max(d, 1)
			n *= int(shape[i])
		}
		raw := make([]byte, n*size[in.Datatype])
		for i := range raw {
			raw[i] = byte(i*7 + 3)
		}
		if in.Datatype == "FP32" { // small finite values
			raw = f32bytes(seq(n, 1)...)
		}
		req.Inputs = append(req.Inputs, &inT{Name: in.Name, Datatype: in.Datatype, Shape: shape})
		req.RawInputContents = append(req.RawInputContents, raw)
	}
	resp, err := c.ModelInfer(ctx(t), req)
	if err != nil {
		t.Fatalf("%s infer: %v", model, err)
	}
	out := map[string][]byte{}
	for i, o := range resp.Outputs {
		out[o.Name+" "+o.Datatype+" "+fmt.Sprint(o.Shape)] = resp.RawOutputContents[i]
	}
	return out
}

// TestLoaderExampleServesAndRetires: the example loader serves the dummy
// model's versions; a version whose enable file says DISABLED goes to END
// at the next poll and comes back when the file no longer does, as OVMS's
// sample loader; the answers are the plain model's.
func TestLoaderExampleServesAndRetires(t *testing.T) {
	buildLoaders(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "dummy")
	addVersion(t, base, "dummy", 1)
	addVersion(t, base, "dummy", 2)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{
 "custom_loader_config_list": [{"config": {"loader_name": "example", "library_path": "example"}}],
 "model_config_list": [
  {"config": {"name": "dummy", "base_path": "dummy", "model_version_policy": {"all": {}},
              "custom_loader_options": {"loader_name": "example", "enable_file": "status"}}},
  {"config": {"name": "plain", "base_path": "`+filepath.Join(modelsDir, "dummy")+`"}}
 ]}`)
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")
	if got := versionStates(t, s)["dummy"]; got != "1:AVAILABLE 2:AVAILABLE" {
		t.Fatalf("dummy: %s\n%s", got, s.log())
	}
	if got, want := inferRaw(t, s, "dummy"), inferRaw(t, s, "plain"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("through the loader %v, plain %v", got, want)
	}
	if pid := loaderPid(t, s, "example"); pid == 0 {
		t.Errorf("no ovms-loader-example process")
	}
	if err := os.WriteFile(filepath.Join(base, "2", "status"), []byte("DISABLED\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "version 2 retired", func() (bool, string) {
		got := versionStates(t, s)["dummy"]
		return got == "1:AVAILABLE 2:END", got
	})
	if err := dummyInfer(t, s, "dummy", "2"); err == nil || !strings.Contains(err.Error(), "Model with requested version is retired") {
		t.Errorf("infer on the retired version: %v", err)
	}
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Errorf("infer on the default version: %v", err)
	}
	if err := os.WriteFile(filepath.Join(base, "2", "status"), []byte("ENABLED\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "version 2 back", func() (bool, string) {
		got := versionStates(t, s)["dummy"]
		return got == "1:AVAILABLE 2:AVAILABLE", got
	})
	if !strings.Contains(s.log(), "version retired by the custom loader; unloading it") {
		t.Errorf("no log line for the retirement:\n%s", s.log())
	}
}

// encryptVersion copies version 1 of a test model into base/1 encrypted
// with ovms-loader-aesgcm encrypt (the plain files removed).
func encryptVersion(t *testing.T, base, model, keyFile string) {
	t.Helper()
	dst := filepath.Join(base, "1")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(modelsDir, model, "1"), dst).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dst, "model.*"))
	args := append([]string{"encrypt", "-key-file", keyFile}, files...)
	if out, err := exec.Command(filepath.Join(binDir, "ovms-loader-aesgcm"), args...).CombinedOutput(); err != nil {
		t.Fatalf("encrypt: %v %s", err, out)
	}
	for _, f := range files {
		plain, _ := os.ReadFile(f)
		sealed, _ := os.ReadFile(f + ".enc")
		if len(plain) >= 4 && bytes.Contains(sealed, plain) {
			t.Fatalf("%s.enc contains the plain file", f)
		}
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
}

// listFiles lists every file under dir (relative), for checks that no
// decrypted file appeared.
func listFiles(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestLoaderAESGCM: the aesgcm loader serves an encrypted ONNX model (key
// from the loader config file's key_file) and an encrypted IR model (key
// from an environment variable named in the model's options) with answers
// bit-identical to the plain models'; no decrypted file appears in the
// model folders; a wrong key fails only that model, with a load error
// naming the model, the version and the file.
func TestLoaderAESGCM(t *testing.T) {
	buildLoaders(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "model.key")
	if out, err := exec.Command(filepath.Join(binDir, "ovms-loader-aesgcm"), "keygen", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	encryptVersion(t, filepath.Join(dir, "enc_onnx"), "dummy", keyFile)
	encryptVersion(t, filepath.Join(dir, "enc_ir"), "increment_1x3x4x5_ir", keyFile)
	before := listFiles(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "aesgcm.json"), []byte(`{"key_file": "model.key"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{
 "custom_loader_config_list": [{"config": {"loader_name": "aesgcm", "library_path": "`+filepath.Join(binDir, "ovms-loader-aesgcm")+`", "loader_config_file": "aesgcm.json"}}],
 "model_config_list": [
  {"config": {"name": "enc_onnx", "base_path": "enc_onnx", "custom_loader_options": {"loader_name": "aesgcm"}}},
  {"config": {"name": "enc_ir", "base_path": "enc_ir", "custom_loader_options": {"loader_name": "aesgcm", "key_env": "TEST_MODEL_KEY"}}},
  {"config": {"name": "wrong_key", "base_path": "enc_onnx", "custom_loader_options": {"loader_name": "aesgcm", "key_env": "TEST_WRONG_KEY"}}},
  {"config": {"name": "plain_onnx", "base_path": "`+filepath.Join(modelsDir, "dummy")+`"}},
  {"config": {"name": "plain_ir", "base_path": "`+filepath.Join(modelsDir, "increment_1x3x4x5_ir")+`"}}
 ]}`)
	s := startEnv(t, []string{"TEST_MODEL_KEY=" + strings.TrimSpace(string(key)), "TEST_WRONG_KEY=" + strings.Repeat("5a", 32)},
		"--config_path", cfg)
	for enc, plain := range map[string]string{"enc_onnx": "plain_onnx", "enc_ir": "plain_ir"} {
		got, want := inferRaw(t, s, enc), inferRaw(t, s, plain)
		if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s answers %v, %s %v", enc, got, plain, want)
		}
	}
	states := versionStates(t, s)
	if states["wrong_key"] != "1:LOADING" || states["enc_onnx"] != "1:AVAILABLE" || states["enc_ir"] != "1:AVAILABLE" {
		t.Errorf("states: %v", states)
	}
	const wantErr = "custom loader aesgcm: model wrong_key version 1: model.onnx.enc: cannot decrypt: wrong key, or the file was changed after encryption (AES-256-GCM authentication failed)"
	if !strings.Contains(s.log(), wantErr) {
		t.Errorf("the log lacks %q:\n%s", wantErr, s.log())
	}
	_, body := get(t, s.url("/v1/models/wrong_key"))
	if !strings.Contains(body, `"error_code": "UNKNOWN"`) {
		t.Errorf("wrong_key status: %s", body)
	}
	if after := listFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(append(before, "aesgcm.json", "config.json")) && fmt.Sprint(after) != fmt.Sprint(sortedWith(before, "aesgcm.json", "config.json")) {
		t.Errorf("files under the model folders changed: %v, were %v", after, before)
	}
}

func sortedWith(list []string, more ...string) []string {
	out := append(append([]string{}, list...), more...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestLoaderCrashRestarted: SIGKILL of the loader process fails nothing
// that is served (the versions are in the device plugin); the loader is
// started again, and a version added afterwards loads through the new
// process.
func TestLoaderCrashRestarted(t *testing.T) {
	buildLoaders(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "dummy")
	addVersion(t, base, "dummy", 1)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{
 "custom_loader_config_list": [{"config": {"loader_name": "example", "library_path": "`+binDir+`"}}],
 "model_config_list": [
  {"config": {"name": "dummy", "base_path": "dummy", "model_version_policy": {"all": {}}, "custom_loader_options": {"loader_name": "example"}}},
  {"config": {"name": "plain", "base_path": "`+filepath.Join(modelsDir, "dummy")+`"}}
 ]}`)
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")
	pid := loaderPid(t, s, "example")
	if pid == 0 {
		t.Fatal("no loader process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // during the restart too
		for _, m := range []string{"dummy", "plain"} {
			if err := dummyInfer(t, s, m, ""); err != nil {
				t.Fatalf("%s after the loader was killed: %v", m, err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	var next int
	waitFor(t, 10*time.Second, "the loader restarted", func() bool {
		next = loaderPid(t, s, "example")
		return next != 0 && next != pid
	})
	addVersion(t, base, "dummy", 2)
	eventually(t, "version 2 loaded through the restarted loader", func() (bool, string) {
		got := versionStates(t, s)["dummy"]
		return got == "1:AVAILABLE 2:AVAILABLE", got
	})
	if !strings.Contains(s.log(), "custom loader process ended; restarting it") {
		t.Errorf("no log line for the crash:\n%s", s.log())
	}
	s.alive()
}

// TestLoaderPluginCommands: `ovms plugin list` shows the loaders,
// `inspect` describes one, `install` records a loader in a plugin folder's
// manifest, from which a bare library_path then serves it, and `remove`
// deletes it and its entry.
func TestLoaderPluginCommands(t *testing.T) {
	buildLoaders(t)
	code, out, stderr := runOVMS(t, "plugin", "list")
	if code != 0 || !strings.Contains(out, "LOADER") || !strings.Contains(out, "aesgcm") || !strings.Contains(out, "example") {
		t.Errorf("plugin list: exit %d %s %s", code, out, stderr)
	}
	code, out, stderr = runOVMS(t, "plugin", "inspect", "aesgcm")
	var info map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info["kind"] != "loader" || info["name"] != "aesgcm" {
		t.Errorf("plugin inspect aesgcm: exit %d %s %s", code, out, stderr)
	}
	plugins := t.TempDir()
	code, out, stderr = runOVMS(t, "plugin", "install", "--plugin_dir", plugins, filepath.Join(binDir, "ovms-loader-example"))
	if code != 0 || !strings.Contains(out, "installed ovms-loader-example") {
		t.Fatalf("plugin install: exit %d %s %s", code, out, stderr)
	}
	if m, _ := os.ReadFile(filepath.Join(plugins, "plugins.json")); !strings.Contains(string(m), `"ovms-loader-example": "`) {
		t.Errorf("manifest: %s", m)
	}
	dir := t.TempDir()
	addVersion(t, filepath.Join(dir, "dummy"), "dummy", 1)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{
 "custom_loader_config_list": [{"config": {"loader_name": "example", "library_path": "example"}}],
 "model_config_list": [{"config": {"name": "dummy", "base_path": "dummy", "custom_loader_options": {"loader_name": "example"}}}]}`)
	s := startArgs(t, "--config_path", cfg, "--plugin_dir", plugins)
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Fatalf("infer: %v\n%s", err, s.log())
	}
	if !strings.Contains(s.log(), "path="+filepath.Join(plugins, "ovms-loader-example")) {
		t.Errorf("the installed loader was not the one started:\n%s", s.log())
	}
	code, out, stderr = runOVMS(t, "plugin", "remove", "--plugin_dir", plugins, "example")
	if code != 0 || !strings.Contains(out, "removed ovms-loader-example") {
		t.Errorf("plugin remove: exit %d %s %s", code, out, stderr)
	}
	if m, _ := os.ReadFile(filepath.Join(plugins, "plugins.json")); strings.Contains(string(m), "ovms-loader-example") {
		t.Errorf("manifest after remove: %s", m)
	}
}

// TestLoaderDocExample: docs/custom-loaders.md includes loaders/example
// verbatim, and it is under 100 lines (buildLoaders builds it, and the
// tests above serve models with it).
func TestLoaderDocExample(t *testing.T) {
	buildLoaders(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := docIncludes(t, filepath.Join(root, "docs", "custom-loaders.md"))
	want, err := os.ReadFile(filepath.Join(root, "loaders", "example", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if blocks["loaders/example/main.go"] != string(want) {
		t.Errorf("docs/custom-loaders.md does not include loaders/example/main.go verbatim")
	}
	if n := strings.Count(string(want), "\n"); n >= 100 {
		t.Errorf("the example loader is %d lines, want under 100", n)
	}
}

// TestLoaderConfigReload: a config reload that points the loader at
// another loader_config_file restarts the loader with it and reloads the
// models that use it: a model that failed with the wrong key serves.
func TestLoaderConfigReload(t *testing.T) {
	buildLoaders(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "good.key")
	if out, err := exec.Command(filepath.Join(binDir, "ovms-loader-aesgcm"), "keygen", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	encryptVersion(t, filepath.Join(dir, "secret"), "dummy", keyFile)
	if err := os.WriteFile(filepath.Join(dir, "bad.key"), []byte(strings.Repeat("42", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"bad.json": "bad.key", "good.json": "good.key"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"key_file": "`+key+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	config := func(loaderConfig string) string {
		return `{
 "custom_loader_config_list": [{"config": {"loader_name": "aesgcm", "library_path": "aesgcm", "loader_config_file": "` + loaderConfig + `"}}],
 "model_config_list": [{"config": {"name": "secret", "base_path": "secret", "custom_loader_options": {"loader_name": "aesgcm"}}}]}`
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, config("bad.json"))
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")
	if got := versionStates(t, s)["secret"]; got != "1:LOADING" {
		t.Fatalf("with the wrong key: %s", got)
	}
	first := loaderPid(t, s, "aesgcm")
	writeConfig(t, cfg, config("good.json"))
	eventually(t, "secret served after the reload", func() (bool, string) {
		got := versionStates(t, s)["secret"]
		return got == "1:AVAILABLE", got
	})
	if err := dummyInfer(t, s, "secret", ""); err != nil {
		t.Fatal(err)
	}
	if next := loaderPid(t, s, "aesgcm"); next == 0 || next == first {
		t.Errorf("loader pid %d before the reload, %d after; want a new process", first, next)
	}
	if !strings.Contains(s.log(), "custom loader settings changed; restarting it") {
		t.Errorf("no log line for the restart:\n%s", s.log())
	}
}
