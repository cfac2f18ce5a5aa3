package onnxruntime

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// libraryMapped reports whether the ONNX Runtime library is mapped into
// this process.
func libraryMapped(t *testing.T) bool {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(maps), LibraryName)
}

// TestPreloadInPluginProcess: a process started with the device plugin
// cookie has the library loaded (by preload.c's constructor) without any
// call to Init, and telemetry off; a process without the cookie does not
// load it. Each case runs in a child process of its own.
func TestPreloadInPluginProcess(t *testing.T) {
	if mode := os.Getenv("ORTGO_PRELOAD_CHILD"); mode != "" {
		plugin := mode == "plugin"
		if plugin {
			deadline := time.Now().Add(5 * time.Second)
			for !libraryMapped(t) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		} else {
			time.Sleep(300 * time.Millisecond) // time enough for a preload to show
		}
		if got := libraryMapped(t); got != plugin {
			t.Fatalf("%s process: library mapped %t before Init, want %t", mode, got, plugin)
		}
		if want := map[bool]string{true: "1", false: ""}[plugin]; cGetenv(EnvDisableTelemetry) != want {
			t.Fatalf("%s process: %s=%q in the C environment before Init, want %q", mode, EnvDisableTelemetry, cGetenv(EnvDisableTelemetry), want)
		}
		return
	}
	lib, err := FindLibrary()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"plugin", "other"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestPreloadInPluginProcess$", "-test.count=1")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, EnvPreloadCookie+"=") && !strings.HasPrefix(kv, EnvDisableTelemetry+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "ORTGO_PRELOAD_CHILD="+mode, "ORT_LIB="+lib)
		if mode == "plugin" {
			cmd.Env = append(cmd.Env, EnvPreloadCookie+"=any")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s child: %v\n%s", mode, err, out)
		}
	}
}
