package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runOVMS runs the ovms binary to completion and returns its exit code,
// stdout and stderr.
func runOVMS(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "ovms"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

func TestCLIUsageErrors(t *testing.T) {
	model := filepath.Join(modelsDir, "dummy")
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--model_path", model, "--port", "9000"}, "Use config_path or model_path with model_name"},
		{[]string{"--model_name", "dummy", "--port", "9000"}, "Use config_path or model_path with model_name"},
		{[]string{"--config_path", "/x.json", "--model_name", "dummy", "--model_path", model}, "Use either config_path or model_path with model_name"},
		{[]string{"--config_path", "/x.json", "--nireq", "4", "--port", "9000"}, "Model parameters in CLI are exclusive with the config file"},
		{[]string{"--model_name", "dummy", "--model_path", model}, "port and rest_port cannot both be unset"},
		{[]string{"--model_name", "dummy", "--model_path", model, "--port", "70000"}, "port number out of range from 0 to 65535"},
		{[]string{"--model_name", "dummy", "--model_path", model, "--port", "9000", "--rest_port", "9000"}, "port and rest_port cannot have the same values"},
		{[]string{"--model_name", "dummy", "--model_path", model, "--port", "9000", "--log_level", "LOUD"}, "log_level should be one of: TRACE, DEBUG, INFO, WARNING, ERROR"},
		{[]string{"--model_name", "dummy", "--model_path", model, "--port", "9000", "--rest_workers", "4"}, "rest_workers is set but rest_port is not set. rest_port is required to start rest servers"},
		{[]string{"--model_name", "dummy", "--model_path", model, "--port", "9000", "--grpc_bind_address", "bad..addr"}, "grpc_bind_address has invalid format: proper hostname or IP address expected."},
		{[]string{"serve", "--model_name", "dummy", "--model_path", model}, "port and rest_port cannot both be unset"},
	}
	for _, c := range cases {
		code, _, stderr := runOVMS(t, c.args...)
		if code != 64 || strings.TrimSpace(stderr) != c.msg {
			t.Errorf("ovms %v: exit %d, stderr %q; want 64, %q", c.args, code, stderr, c.msg)
		}
	}
	code, _, stderr := runOVMS(t, "--model_name", "dummy", "--no_such_flag", "1")
	if code != 64 || !strings.HasPrefix(stderr, "error parsing options") {
		t.Errorf("unknown flag: exit %d, %q", code, stderr)
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{nil, {"--help"}, {"serve", "--help"}} {
		code, out, _ := runOVMS(t, args...)
		if code != 0 || !strings.Contains(out, "--model_path") {
			t.Errorf("ovms %v: exit %d, help %q", args, code, out)
		}
	}
	if code, out, _ := runOVMS(t, "--version"); code != 0 || !strings.Contains(out, "OpenVINO Model Server") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}

func TestStartupFailsOnBadModelPath(t *testing.T) {
	code, _, stderr := runOVMS(t, "--model_name", "m", "--model_path", "/does/not/exist", "--rest_port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "The provided base path is invalid or doesn't exists") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestServeSubcommand(t *testing.T) {
	s := startCommand(t, []string{"serve"}, "dummy", "--plugin_dir", binDir)
	code, body := post(t, s.url("/v2/models/dummy/infer"), `{"inputs":[{"name":"b","shape":[1,10],"datatype":"FP32","data":[0,0,0,0,0,0,0,0,0,0]}]}`)
	if code != 200 || !strings.Contains(body, "[1.0, 1.0, 1.0") {
		t.Fatalf("%d %s", code, body)
	}
}

// TestPluginListAndMissingDevices: `ovms plugin list` shows CPU available
// and the GPU and CUDA plugins not present with the reason, and a model
// loaded on a missing device fails with a message naming what is missing.
func TestPluginListAndMissingDevices(t *testing.T) {
	code, out, stderr := runOVMS(t, "plugin", "list")
	if code != 0 {
		t.Fatalf("plugin list: exit %d %s", code, stderr)
	}
	for _, want := range []string{
		"PLUGIN  VERSION", "cpu ", " CPU ", " available\n",
		"cuda ", "CUDA,NVIDIA", "not present: ", "libonnxruntime_providers_cuda.so",
		"gpu ", "GPU ", "libonnxruntime_providers_openvino.so",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plugin list lacks %q:\n%s", want, out)
		}
	}
	for _, dev := range []string{"GPU", "NVIDIA"} {
		code, _, stderr := runOVMS(t, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"),
			"--target_device", dev, "--port", "0", "--rest_port", fmt.Sprint(freePort(t)))
		if code != 1 || !strings.Contains(stderr, "Cannot compile model into target device") || !strings.Contains(stderr, "device is not available on this machine") ||
			!strings.Contains(stderr, "provider") {
			t.Errorf("%s: exit %d, stderr %q", dev, code, stderr)
		}
	}
}

// TestPluginInstallVerifyRemove installs the mock plugin into a plugin
// folder (recording its sha256), serves a model on it, refuses it once
// the binary is altered, and removes it.
func TestPluginInstallVerifyRemove(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(binDir, "ovms-device-mock")
	if code, _, stderr := runOVMS(t, "plugin", "install", "--plugin_dir", dir, "--sha256", strings.Repeat("0", 64), src); code != 1 || !strings.Contains(stderr, "not installed") {
		t.Fatalf("install with a wrong --sha256: exit %d %s", code, stderr)
	}
	code, out, stderr := runOVMS(t, "plugin", "install", "--plugin_dir", dir, "file://"+src)
	if code != 0 || !strings.Contains(out, "installed ovms-device-mock (sha256 ") {
		t.Fatalf("install: exit %d %s %s", code, out, stderr)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "plugins.json"))
	if err != nil || !strings.Contains(string(manifest), `"ovms-device-mock": "`) {
		t.Fatalf("manifest: %s %v", manifest, err)
	}
	code, out, _ = runOVMS(t, "plugin", "inspect", "--plugin_dir", dir, "mock")
	if code != 0 || !strings.Contains(out, `"devices": [`) || !strings.Contains(out, `"MOCK"`) || !strings.Contains(out, `"available": true`) {
		t.Fatalf("inspect: exit %d %s", code, out)
	}
	s := startServer(t, "dummy", "--target_device", "MOCK", "--plugin_dir", dir)
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Fatalf("infer on the installed plugin: %v", err)
	}
	s.stop()
	// An altered binary is refused.
	f, err := os.OpenFile(filepath.Join(dir, "ovms-device-mock"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte{0})
	f.Close()
	code, _, stderr = runOVMS(t, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--target_device", "MOCK",
		"--plugin_dir", dir, "--port", "0", "--rest_port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "refusing the mock plugin") || !strings.Contains(stderr, "its sha256 does not match") {
		t.Errorf("an altered plugin: exit %d %s", code, stderr)
	}
	// A binary the manifest does not list is refused too.
	if err := os.WriteFile(filepath.Join(dir, "ovms-device-cpu"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runOVMS(t, "plugin", "inspect", "--plugin_dir", dir, "cpu")
	if code != 1 || !strings.Contains(stderr, "ovms-device-cpu is not in") {
		t.Errorf("an unlisted plugin: exit %d %s", code, stderr)
	}
	if code, out, _ := runOVMS(t, "plugin", "remove", "--plugin_dir", dir, "mock"); code != 0 || !strings.Contains(out, "removed ovms-device-mock") {
		t.Errorf("remove: exit %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ovms-device-mock")); !os.IsNotExist(err) {
		t.Errorf("the plugin is still there: %v", err)
	}
}

// TestCPUExtensionReachesThePlugin: --cpu_extension is handed to the
// device plugin, which registers it with ONNX Runtime; a file that is not
// a custom-operator library fails the load with ONNX Runtime's reason.
func TestCPUExtensionReachesThePlugin(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libnot_custom_ops.so")
	if err := os.WriteFile(lib, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runOVMS(t, "--model_name", "dummy", "--model_path", filepath.Join(modelsDir, "dummy"), "--cpu_extension", lib,
		"--port", "0", "--rest_port", fmt.Sprint(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "Cannot compile model into target device") || !strings.Contains(stderr, "custom op library "+lib+": ") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
