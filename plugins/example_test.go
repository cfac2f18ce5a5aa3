package plugins_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/plugins"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelinfo"
)

// echo answers every output with the first input: a whole device.
type echo struct {
	device.Models[*device.ModelInfo]
	env *device.Env
}

func (e *echo) Info(context.Context) (*device.Info, error) {
	return &device.Info{Name: "echo", Devices: []string{"ECHO"}}, nil
}

func (e *echo) Load(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
	info, err := modelinfo.Read(req)
	if err == nil {
		e.Store(req.Model, info)
	}
	return info, err
}

func (e *echo) Infer(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
	info, err := e.Get(req.Model)
	if err != nil {
		return nil, err
	}
	return e.env.Respond(req, func(c *device.Call) error {
		in, x, err := c.Input(info.Inputs[0].Name)
		if err != nil {
			return err
		}
		y, err := c.OutputBytes(info.Outputs[0].Name, in.DType, in.Shape, in.Length)
		copy(y, x)
		return err
	})
}

// The main function of the binary ovms-device-echo, which serves models
// whose target_device is ECHO. (Compiled, not run: ServeDevice never
// returns.)
func ExampleServeDevice() {
	plugins.ServeDevice("echo", func(env *device.Env) (device.Device, error) { return &echo{env: env}, nil })
}

// TestPackageDocMainCompiles: the one-line main the package comment shows
// is examples/negate's, which is built (so the comment's code compiles).
func TestPackageDocMainCompiles(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../examples/negate/main.go")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(string(doc), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok && strings.HasPrefix(code, "func main()") {
			found = true
			if !strings.Contains(string(example), "\n"+code+"\n") {
				t.Errorf("doc.go shows %q, which examples/negate/main.go does not have", code)
			}
		}
	}
	if !found {
		t.Error("doc.go shows no main function")
	}
}
