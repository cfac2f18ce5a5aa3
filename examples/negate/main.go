// Command ovms-device-negate is the device plugin of docs/device-plugins.md:
// it answers every output of a model with the matching input negated.
package main

import (
	"context"

	"github.com/ovmsgo/ovms/plugins"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelinfo"
)

func main() { plugins.ServeDevice("negate", newNegate) }

// negate serves target_device NEGATE; Models keeps metadata and does Unload.
type negate struct {
	device.Models[*device.ModelInfo]
	env *device.Env
}

func newNegate(env *device.Env) (device.Device, error) { return &negate{env: env}, nil }

func (n *negate) Info(context.Context) (*device.Info, error) {
	return &device.Info{Name: "negate", Version: "1.0.0", Engine: "Go", Devices: []string{"NEGATE"}}, nil
}

// Load reads the inputs and outputs of the version's .onnx file.
func (n *negate) Load(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
	info, err := modelinfo.Read(req)
	if err == nil {
		n.Store(req.Model, info)
	}
	return info, err
}

// Infer answers output i with input i negated (FP32 models).
func (n *negate) Infer(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
	info, err := n.Get(req.Model)
	if err != nil {
		return nil, err
	}
	return n.env.Respond(req, func(c *device.Call) error {
		for i, out := range info.Outputs {
			in, src, err := c.Input(info.Inputs[i].Name)
			if err != nil {
				return err
			}
			dst, err := c.Output(out.Name, in.DType, in.Shape)
			if err != nil {
				return err
			}
			x, y := device.View[float32](src), device.View[float32](dst)
			for j := range x {
				y[j] = -x[j]
			}
		}
		return nil
	})
}
