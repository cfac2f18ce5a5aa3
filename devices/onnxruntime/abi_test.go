package onnxruntime

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestABISlots re-derives ortabi_slots.h with gen-abi.sh from the real
// onnxruntime_c_api.h when the module that ships it is in the module cache,
// and compares. gen-abi.sh also checks every signature and enum value of
// ortabi.h against the header.
func TestABISlots(t *testing.T) {
	const module = "github.com/yalue/onnxruntime_go@v1.27.0"
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			t.Skipf("cannot find the module cache (go env GOMODCACHE: %v)", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, module)
	if _, err := os.Stat(filepath.Join(dir, "onnxruntime_c_api.h")); err != nil {
		t.Skipf("onnxruntime_c_api.h not in the module cache (%s); run gen-abi.sh, or go mod download %s in a scratch module, to check the slots", dir, module)
	}
	out := filepath.Join(t.TempDir(), "ortabi_slots.h")
	cmd := exec.Command("bash", "gen-abi.sh", out)
	cmd.Env = append(os.Environ(), "ORTABI_HEADER_DIR="+dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-abi.sh: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("ortabi_slots.h")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ortabi_slots.h differs from what gen-abi.sh derives from %s: run devices/onnxruntime/gen-abi.sh\ngot:\n%s", dir, got)
	}
}

// TestAPIVersion checks that the library gave the requested OrtApi version,
// or its own where it is older (ONNX Runtime 1.N offers version N; ORT_LIB
// can point the test at such a library).
func TestAPIVersion(t *testing.T) {
	initLib(t)
	v := Version()
	if v == "" {
		t.Fatal("Version() is empty after Init")
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d.", &major, &minor); err != nil || major != 1 {
		t.Fatalf("Version() = %q, want 1.N.M", v)
	}
	if want := min(minor, RequestedAPIVersion); APIVersion() != want {
		t.Errorf("ONNX Runtime %s: APIVersion() = %d, want %d", v, APIVersion(), want)
	}
	t.Logf("ONNX Runtime %s, OrtApi version %d", v, APIVersion())
}
