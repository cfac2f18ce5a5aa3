// Command ovms-device-cuda is the NVIDIA GPU device plugin of ovms (target
// devices CUDA and NVIDIA, through ONNX Runtime's CUDA execution provider).
// It reports the GPU unavailable, with the reason, when the NVIDIA driver
// or the provider library is missing; ovms starts it, it is not meant to
// be run by hand.
package main

import (
	"github.com/ovmsgo/ovms/devices/detect"
	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins"
)

func main() {
	plugins.ServeDevice("cuda", ortdevice.Factory(ortdevice.Config{Name: "cuda", Devices: []string{"CUDA", "NVIDIA"}, Detect: detect.CUDA, CUDA: true}))
}
