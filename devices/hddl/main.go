// Command ovms-device-hddl is the HDDL (Vision Accelerator) device plugin of
// ovms. It reports the device unavailable, with the reason, when the
// hddldaemon socket or ONNX Runtime's OpenVINO provider is missing; ovms
// starts it, it is not meant to be run by hand.
package main

import (
	"github.com/ovmsgo/ovms/devices/detect"
	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins"
)

func main() {
	plugins.ServeDevice("hddl", ortdevice.Factory(ortdevice.Config{Name: "hddl", Devices: []string{"HDDL"}, Detect: detect.HDDL}))
}
