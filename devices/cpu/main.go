// Command ovms-device-cpu is the CPU device plugin of ovms: it runs models
// with ONNX Runtime's CPU execution provider in its own process. ovms starts
// it; it is not meant to be run by hand.
package main

import (
	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins"
)

func main() {
	plugins.ServeDevice("cpu", ortdevice.Factory(ortdevice.Config{Name: "cpu", Devices: []string{"CPU"}, SharedPool: true}))
}
