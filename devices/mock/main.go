// Command ovms-device-mock is a test device plugin: it runs models on the
// CPU through ONNX Runtime, answers to target device MOCK, and injects the
// faults a model's plugin_config asks for: MOCK_FAIL_LOAD ("true"),
// MOCK_LATENCY_MS, MOCK_LOAD_DELAY_MS (the load first sleeps that long,
// deaf to cancellation, as a stuck engine call), MOCK_CRASH_AFTER (N
// inferences, then the process exits), MOCK_HANG_AFTER (N inferences,
// then the process stops answering, health checks included) and
// MOCK_CRASH_ON (the process aborts on any request whose first FP32 value
// is this number: a poison request). For tests of supervision, composite
// devices and load timeouts.
package main

import (
	"github.com/ovmsgo/ovms/devices/ortdevice"
	"github.com/ovmsgo/ovms/plugins"
	"github.com/ovmsgo/ovms/plugins/device"
)

func main() {
	plugins.ServeDevice("mock", func(env *device.Env) (device.Device, error) {
		d, err := ortdevice.New(ortdevice.Config{Name: "mock", Devices: []string{"MOCK"}}, env)
		if err != nil {
			return nil, err
		}
		return &mock{Device: d, hung: make(chan struct{}), env: env}, nil
	})
}
