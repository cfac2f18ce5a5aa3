// Command ovms-device-gpu is the GPU device plugin of ovms (Intel GPUs
// through ONNX Runtime's OpenVINO execution provider). It reports the GPU
// unavailable, with the reason, when the render node or the provider is
// missing; ovms starts it, it is not meant to be run by hand.
package main

import (
	"github.com/ovmsgo/ovms/devices/detect"
	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins"
)

func main() {
	plugins.ServeDevice("gpu", ortdevice.Factory(ortdevice.Config{Name: "gpu", Devices: []string{"GPU"}, Detect: detect.GPU}))
}
