package detect

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetectOnAFakeMachine(t *testing.T) {
	Root = t.TempDir()
	defer func() { Root = "" }()
	lib := t.TempDir()
	// Nothing present: every reason is given.
	for name, fn := range map[string]func(string) string{"GPU": GPU, "MYRIAD": MYRIAD, "HDDL": HDDL, "CUDA": CUDA} {
		r := fn(lib)
		if r == "" || !strings.Contains(r, "provider") {
			t.Errorf("%s on an empty machine: %q", name, r)
		}
	}
	if r := GPU(lib); !strings.HasPrefix(r, "no GPU render node (/dev/dri/renderD*); ONNX Runtime's OpenVINO provider") {
		t.Errorf("GPU: %q", r)
	}
	if r := CUDA(""); !strings.Contains(r, "no NVIDIA driver") || !strings.Contains(r, "ONNX Runtime library not found") {
		t.Errorf("CUDA without a library: %q", r)
	}
	// Hardware present, providers present: usable.
	write(t, filepath.Join(Root, "dev/dri/renderD128"), "")
	write(t, filepath.Join(Root, "sys/bus/usb/devices/1-1/idVendor"), "03e7\n")
	write(t, filepath.Join(Root, "sys/bus/usb/devices/1-1/idProduct"), "2485\n")
	write(t, filepath.Join(Root, "proc/driver/nvidia/version"), "NVRM version: 550\n")
	write(t, filepath.Join(Root, "dev/nvidia0"), "")
	sock := filepath.Join(Root, "var/tmp/hddl_service.sock")
	_ = os.MkdirAll(filepath.Dir(sock), 0o755)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, f := range []string{"libonnxruntime_providers_openvino.so", "libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"} {
		write(t, filepath.Join(lib, f), "")
	}
	for name, fn := range map[string]func(string) string{"GPU": GPU, "MYRIAD": MYRIAD, "HDDL": HDDL, "CUDA": CUDA} {
		if r := fn(lib); r != "" {
			t.Errorf("%s with everything present: %q", name, r)
		}
	}
	// A container without /proc/driver (gVisor) still shows the driver's
	// control node; without it and the version file there is no driver.
	if err := os.Remove(filepath.Join(Root, "proc/driver/nvidia/version")); err != nil {
		t.Fatal(err)
	}
	if r := CUDA(lib); !strings.HasPrefix(r, "no NVIDIA driver") {
		t.Errorf("CUDA with neither the version file nor nvidiactl: %q", r)
	}
	write(t, filepath.Join(Root, "dev/nvidiactl"), "")
	if r := CUDA(lib); r != "" {
		t.Errorf("CUDA with /dev/nvidiactl only: %q", r)
	}
	if err := os.Remove(filepath.Join(Root, "dev/nvidia0")); err != nil {
		t.Fatal(err)
	}
	if r := CUDA(lib); r != "no NVIDIA GPU node (/dev/nvidia0)" {
		t.Errorf("CUDA without /dev/nvidia0: %q", r)
	}
}
