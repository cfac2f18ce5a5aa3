// Command ovms-device-myriad is the MYRIAD (Movidius VPU) device plugin of
// ovms. It reports the device unavailable, with the reason, when no
// Movidius stick is on USB or ONNX Runtime's OpenVINO provider is missing;
// ovms starts it, it is not meant to be run by hand.
package main

import (
	"github.com/ovmsgo/ovms/devices/detect"
	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins"
)

func main() {
	plugins.ServeDevice("myriad", ortdevice.Factory(ortdevice.Config{Name: "myriad", Devices: []string{"MYRIAD"}, Detect: detect.MYRIAD}))
}
