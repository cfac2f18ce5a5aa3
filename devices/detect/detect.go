// Package detect finds out, honestly, whether a device family can run here:
// the hardware (device nodes, USB ids, daemon sockets, drivers) and the
// ONNX Runtime support it needs. Each check returns "" when the device is
// usable, else the reason it is not. Paths are looked up under Root, so
// tests can build a fake machine.
package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Root is prefixed to every path checked ("" is the real machine).
var Root = ""

func path(p string) string { return filepath.Join(Root, p) }

// GPU needs an Intel GPU render node and ONNX Runtime's OpenVINO provider
// (libonnxruntime_providers_openvino.so beside the ORT library in libDir).
func GPU(libDir string) string {
	nodes, _ := filepath.Glob(path("/dev/dri/renderD*"))
	var missing []string
	if len(nodes) == 0 {
		missing = append(missing, "no GPU render node (/dev/dri/renderD*)")
	}
	if r := provider(libDir, "openvino"); r != "" {
		missing = append(missing, r)
	}
	return strings.Join(missing, "; ")
}

// myriadIDs are the Movidius USB vendor:product ids (Myriad 2, Myriad X
// before and after boot).
var myriadIDs = []string{"03e7:2485", "03e7:2150", "03e7:f63b"}

// MYRIAD needs a Movidius stick on USB and the OpenVINO provider; OpenVINO
// dropped MYRIAD in 2022.1, so no current provider can drive it.
func MYRIAD(libDir string) string {
	found := false
	devs, _ := filepath.Glob(path("/sys/bus/usb/devices/*"))
	for _, d := range devs {
		v, _ := os.ReadFile(filepath.Join(d, "idVendor"))
		p, _ := os.ReadFile(filepath.Join(d, "idProduct"))
		id := strings.TrimSpace(string(v)) + ":" + strings.TrimSpace(string(p))
		for _, want := range myriadIDs {
			if id == want {
				found = true
			}
		}
	}
	var missing []string
	if !found {
		missing = append(missing, fmt.Sprintf("no Movidius USB device (ids %s under /sys/bus/usb/devices)", strings.Join(myriadIDs, ", ")))
	}
	if r := provider(libDir, "openvino"); r != "" {
		missing = append(missing, r)
	}
	return strings.Join(missing, "; ")
}

// hddlSocket is where the HDDL daemon (hddldaemon) listens.
const hddlSocket = "/var/tmp/hddl_service.sock"

// HDDL needs the hddldaemon's socket and the OpenVINO provider.
func HDDL(libDir string) string {
	var missing []string
	if st, err := os.Stat(path(hddlSocket)); err != nil || st.Mode()&os.ModeSocket == 0 {
		missing = append(missing, "no hddldaemon socket ("+hddlSocket+")")
	}
	if r := provider(libDir, "openvino"); r != "" {
		missing = append(missing, r)
	}
	return strings.Join(missing, "; ")
}

// CUDA needs the NVIDIA driver (/proc/driver/nvidia/version, or its
// control node /dev/nvidiactl where a container such as gVisor shows no
// /proc/driver), a /dev/nvidia0 node and ONNX Runtime's CUDA provider
// (libonnxruntime_providers_cuda.so, with libonnxruntime_providers_shared.so).
// The CUDA libraries the provider links (cudart, cuBLAS, cuRAND, cuDNN) are
// found by the dynamic loader when the first session is made.
func CUDA(libDir string) string {
	var missing []string
	_, errVersion := os.Stat(path("/proc/driver/nvidia/version"))
	_, errCtl := os.Stat(path("/dev/nvidiactl"))
	if errVersion != nil && errCtl != nil {
		missing = append(missing, "no NVIDIA driver (/proc/driver/nvidia/version or /dev/nvidiactl)")
	} else if _, err := os.Stat(path("/dev/nvidia0")); err != nil {
		missing = append(missing, "no NVIDIA GPU node (/dev/nvidia0)")
	}
	if r := provider(libDir, "cuda"); r != "" {
		missing = append(missing, r)
	}
	return strings.Join(missing, "; ")
}

// providerNames are the execution providers' display names.
var providerNames = map[string]string{"openvino": "OpenVINO", "cuda": "CUDA"}

// providerHints say where each provider library can come from.
var providerHints = map[string]string{
	"openvino": "the onnxruntime-node package ships the CPU provider only, and no npm package ships this one",
	"cuda":     "run scripts/fetch-cuda-provider.sh",
}

// provider checks for ONNX Runtime's shared provider library of an
// execution provider beside the ORT library.
func provider(libDir, name string) string {
	lib := "libonnxruntime_providers_" + name + ".so"
	if libDir == "" {
		return "ONNX Runtime library not found, so no " + lib
	}
	for _, f := range []string{lib, "libonnxruntime_providers_shared.so"} {
		if _, err := os.Stat(filepath.Join(libDir, f)); err != nil {
			return fmt.Sprintf("ONNX Runtime's %s provider (%s) is not in %s (%s)", providerNames[name], f, libDir, providerHints[name])
		}
	}
	return ""
}
