package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// docIncludes returns the ```go blocks of a doc that follow an
// "<!-- file PATH -->" comment, by PATH (relative to the repository).
func docIncludes(t *testing.T, doc string) map[string]string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	var path string
	var b strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- file "):
			path = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "<!-- file "), "-->"))
		case path != "" && !in && line == "```go":
			in = true
			b.Reset()
		case in && line == "```":
			out[path] = b.String()
			path, in = "", false
		case in:
			b.WriteString(line + "\n")
		}
	}
	return out
}

// buildIn runs go with args in dir with the environment env added.
// offlineGo is the environment of a go command that must work offline, in
// a module that requires this checkout (a starter written by ovms plugin
// new). Before the first, go mod tidy -diff runs in the checkout with the
// network allowed, which changes nothing but fetches what tidying it needs:
// the go.mod of every module in its graph and the packages its
// dependencies' tests import, which the starter's own go mod tidy reads
// too. A build or go test fetches only what it compiles: on a fresh
// machine, make test alone left github.com/mattn/go-colorable v0.1.9's
// go.mod out and the starter tests failed (CI ran make check-tidy first).
func offlineGo(t *testing.T, root string) []string {
	t.Helper()
	moduleGraphOnce.Do(func() {
		cmd := exec.Command("go", "mod", "tidy", "-diff")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			moduleGraphErr = fmt.Errorf("go mod tidy -diff in %s (fetches the modules a starter's offline go mod tidy reads; it fails when go.mod or go.sum is not tidy: run go mod tidy): %w\n%s", root, err, out)
		}
	})
	if moduleGraphErr != nil {
		t.Fatal(moduleGraphErr)
	}
	return []string{"GOPROXY=off", "GOFLAGS=-mod=mod"}
}

var (
	moduleGraphOnce sync.Once
	moduleGraphErr  error
)

func goIn(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

// restOutputs posts the dummy model's input b = 1..10 over KServe REST and
// returns output a and the whole answer.
func restOutputs(t *testing.T, s *server) ([]float32, string) {
	t.Helper()
	code, body, err := restDo(s, http.DefaultClient, http.MethodPost, "/v2/models/dummy/infer",
		`{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`)
	if err != nil || code != http.StatusOK {
		t.Fatalf("infer: %d %s %v\n%s", code, body, err, s.log())
	}
	var resp struct {
		Outputs []struct {
			Name string    `json:"name"`
			Data []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || len(resp.Outputs) != 1 || resp.Outputs[0].Name != "a" {
		t.Fatalf("answer %s: %v", body, err)
	}
	return resp.Outputs[0].Data, body
}

// TestPluginSDKNegateFromDocs: the negate device of docs/device-plugins.md
// is examples/negate verbatim (under 60 lines), and as the doc says it is
// built, installed with `ovms plugin install` and serves the dummy model
// through the real ovms binary: every output value is minus its input.
func TestPluginSDKNegateFromDocs(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := docIncludes(t, filepath.Join(root, "docs", "device-plugins.md"))
	for _, path := range []string{"examples/negate/main.go", "examples/negate/main_test.go"} {
		want, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if blocks[path] != string(want) {
			t.Errorf("docs/device-plugins.md does not include %s verbatim", path)
		}
	}
	if n := strings.Count(blocks["examples/negate/main.go"], "\n"); n == 0 || n >= 60 {
		t.Errorf("the negate device is %d lines, want under 60", n)
	}
	// The plugins package doc's one-line main is the example's.
	doc, _ := os.ReadFile(filepath.Join(root, "plugins", "doc.go"))
	for _, line := range strings.Split(string(doc), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok && strings.HasPrefix(code, "func main()") && !strings.Contains(blocks["examples/negate/main.go"], code+"\n") {
			t.Errorf("plugins/doc.go shows %q, which examples/negate does not have", code)
		}
	}

	plugins := installNegate(t, root)
	code, out, stderr := runOVMS(t, "plugin", "list", "--plugin_dir", plugins)
	if code != 0 || !strings.Contains(out, "negate") || !strings.Contains(out, "NEGATE") {
		t.Errorf("plugin list: exit %d %s %s", code, out, stderr)
	}
	s := startServer(t, "dummy", "--target_device", "NEGATE", "--plugin_dir", plugins)
	got, body := restOutputs(t, s)
	doc, _ = os.ReadFile(filepath.Join(root, "docs", "device-plugins.md"))
	if _, answer, ok := strings.Cut(string(doc), "```json\n"); !ok || !strings.HasPrefix(answer, strings.TrimSpace(body)+"\n```") {
		t.Errorf("docs/device-plugins.md does not show the answer ovms gives:\n%s", body)
	}
	for i, v := range got {
		if v != -float32(i+1) {
			t.Fatalf("a = %v, want -1..-10", got)
		}
	}
	if len(got) != 10 {
		t.Fatalf("a = %v", got)
	}
}

// installNegate builds examples/negate and installs it into a new plugin
// folder, which it returns.
func installNegate(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ovms-device-negate")
	goIn(t, root, nil, "build", "-o", bin, "./examples/negate")
	plugins := t.TempDir()
	code, out, stderr := runOVMS(t, "plugin", "install", bin, "--plugin_dir", plugins)
	if code != 0 || !strings.Contains(out, "installed ovms-device-negate") {
		t.Fatalf("plugin install: exit %d %s %s", code, out, stderr)
	}
	return plugins
}

// TestPluginSDKNegateClientSharedMemory: the negate device, which leaves
// memory to Env.Respond, reads its input from and writes its output into a
// client's shared-memory region through the real server (KServe gRPC).
func TestPluginSDKNegateClientSharedMemory(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "dummy", "--target_device", "NEGATE", "--plugin_dir", installNegate(t, root), "--allow_client_shm")
	c := kpb.NewGRPCInferenceServiceClient(s.conn)
	key, mem := clientRegion(t, 4096)
	copy(mem[100:], f32bytes(seq(10, 5)...))
	if _, err := c.SystemSharedMemoryRegister(ctx(t), &kpb.SystemSharedMemoryRegisterRequest{Name: "io", Key: key, ByteSize: 4096}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.ModelInfer(ctx(t), &kpb.ModelInferRequest{
		ModelName: "dummy",
		Inputs:    []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Parameters: shmParams("io", 100, 40)}},
		Outputs:   []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "a", Parameters: shmParams("io", 2048, 40)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := seq(10, 5)
	for i := range want {
		want[i] = -want[i]
	}
	if !equal(f32s(mem[2048:2088]), want) || len(resp.RawOutputContents) != 1 || len(resp.RawOutputContents[0]) != 0 {
		t.Fatalf("output in shared memory: %v, response %v", f32s(mem[2048:2088]), resp)
	}
	// A room too small for the output fails the request (as the CPU
	// plugin's does: the core maps the plugin's error), not the plugin.
	_, err = c.ModelInfer(ctx(t), &kpb.ModelInferRequest{
		ModelName: "dummy",
		Inputs:    []*kpb.ModelInferRequest_InferInputTensor{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}, Parameters: shmParams("io", 100, 40)}},
		Outputs:   []*kpb.ModelInferRequest_InferRequestedOutputTensor{{Name: "a", Parameters: shmParams("io", 2048, 20)}},
	})
	if err == nil || !strings.Contains(err.Error(), `output "a": 40 bytes do not fit the 20 bytes of its shared-memory region`) {
		t.Errorf("an output region too small: %v", err)
	}
	if got, _ := restOutputs(t, s); len(got) != 10 || got[0] != -1 {
		t.Errorf("after the failed request: %v", got)
	}
	s.alive()
}

// TestPluginNewStarter: `ovms plugin new` writes a plugin that builds,
// passes its contract test, installs and serves through the real ovms (it
// answers every output with its input).
func TestPluginNewStarter(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "starter")
	code, out, stderr := runOVMS(t, "plugin", "new", "starter", "--dir", dir, "--sdk", root)
	if code != 0 || !strings.Contains(out, "target_device STARTER") {
		t.Fatalf("plugin new: exit %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runOVMS(t, "plugin", "new", "starter", "--dir", dir); code == 0 || !strings.Contains(stderr, "not empty") {
		t.Errorf("plugin new over a written plugin: exit %d %s", code, stderr)
	}
	if code, _, stderr := runOVMS(t, "plugin", "new", "Bad.Name"); code == 0 || !strings.Contains(stderr, "not a plugin family name") {
		t.Errorf("plugin new Bad.Name: exit %d %s", code, stderr)
	}
	// Offline: the module cache of this checkout's build has every module.
	offline := offlineGo(t, root)
	goIn(t, dir, offline, "mod", "tidy")
	goIn(t, dir, offline, "test", "-count=1", "./...")
	bin := filepath.Join(dir, "ovms-device-starter")
	goIn(t, dir, offline, "build", "-o", bin, ".")
	plugins := t.TempDir()
	if code, out, stderr := runOVMS(t, "plugin", "install", bin, "--plugin_dir", plugins); code != 0 {
		t.Fatalf("plugin install: exit %d %s %s", code, out, stderr)
	}
	s := startServer(t, "dummy", "--target_device", "STARTER", "--plugin_dir", plugins)
	got, _ := restOutputs(t, s)
	if len(got) != 10 || got[0] != 1 || got[9] != 10 {
		t.Fatalf("a = %v, want the input 1..10", got)
	}
}

// TestPluginInstallKeepsBuiltins: installing a plugin beside ovms, in a
// folder without a manifest, records the plugins already there, so the
// built-in CPU plugin still serves afterwards.
func TestPluginInstallKeepsBuiltins(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ovms", "ovms-device-cpu"} {
		data, err := os.ReadFile(filepath.Join(binDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(dir, "ovms"), "plugin", "install", filepath.Join(binDir, "ovms-device-mock"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "recorded the plugins already there as installed: ovms-device-cpu") {
		t.Fatalf("plugin install beside ovms: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "plugins.json"))
	if err != nil || !strings.Contains(string(manifest), `"ovms-device-cpu"`) || !strings.Contains(string(manifest), `"ovms-device-mock"`) {
		t.Fatalf("manifest %s %v", manifest, err)
	}
	for _, target := range []string{"CPU", "MOCK"} {
		cmd := exec.Command(filepath.Join(dir, "ovms"), "plugin", "inspect", strings.ToLower(target))
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"available": true`) {
			t.Errorf("plugin inspect %s after the install: %v\n%s", target, err, out)
		}
	}
}
