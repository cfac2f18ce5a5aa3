package devicetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/device/devicetest"
	"github.com/ovmsgo/ovms/plugins/modelinfo"
)

// copier answers every output with a copy of the first input, through
// Env.Respond; its flaws are switched on by the test.
type copier struct {
	device.Models[*device.ModelInfo]
	env *device.Env
	// leak allocates an output by hand and fails without freeing it, on a
	// model that is not loaded.
	leak bool
	// short writes outputs one element short of their shape.
	short bool
}

func (d *copier) Info(context.Context) (*device.Info, error) {
	return &device.Info{Name: "copier", Devices: []string{"COPIER"}}, nil
}

func (d *copier) Load(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
	mi, err := modelinfo.Read(req)
	if err == nil {
		d.Store(req.Model, mi)
	}
	return mi, err
}

func (d *copier) Infer(_ context.Context, req *device.InferRequest) (*device.InferResponse, error) {
	mi, err := d.Get(req.Model)
	if err != nil {
		if d.leak {
			_, _ = d.env.Arena.PluginZone().Alloc(64)
		}
		return nil, err
	}
	return d.env.Respond(req, func(c *device.Call) error {
		in, src, err := c.Input(mi.Inputs[0].Name)
		if err != nil {
			return err
		}
		for _, o := range mi.Outputs {
			size := uint64(len(src))
			if d.short {
				size -= 4
			}
			dst, err := c.OutputBytes(o.Name, in.DType, in.Shape, size)
			if err != nil {
				return err
			}
			copy(dst, src)
		}
		return nil
	})
}

// twoOutputs writes a model b [1,4] -> a = b + 1, c = b + 1.
func twoOutputs(t *testing.T) string {
	g := onnxmodel.NewGraph("two")
	b := g.Input("b", onnxmodel.Float32, 1, 4)
	one := g.Constant(onnxmodel.Float32Tensor("one", []int64{1, 1}, []float32{1}))
	g.Output(g.NamedNode("Add", "a", []onnxmodel.Value{b, one}), "a", onnxmodel.Float32, 1, 4)
	g.Output(g.NamedNode("Add", "c", []onnxmodel.Value{b, one}), "c", onnxmodel.Float32, 1, 4)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "1")
	if err := onnxmodel.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func factory(d *copier) device.Factory {
	return func(env *device.Env) (device.Device, error) { d.env = env; return d, nil }
}

// TestContractPassesACorrectDevice: a device written with Respond passes,
// and its Respond drops the output a request did not ask for.
func TestContractPassesACorrectDevice(t *testing.T) {
	if os.Getenv("DEVICETEST_FLAW") != "" {
		d := &copier{leak: os.Getenv("DEVICETEST_FLAW") == "leak", short: os.Getenv("DEVICETEST_FLAW") == "short"}
		devicetest.Contract(t, factory(d), devicetest.Model{Path: twoOutputs(t)})
		return
	}
	in := devicetest.Float32("b", []int64{1, 4}, 1, 2, 3, 4)
	devicetest.Contract(t, factory(&copier{}), devicetest.Model{Path: twoOutputs(t), Inputs: []devicetest.Tensor{in},
		Check: func(t testing.TB, _, out []devicetest.Tensor) {
			if len(out) != 2 || out[0].Float32s()[3] != 4 || out[1].Name != "c" {
				t.Errorf("outputs %+v", out)
			}
		}})
}

// TestContractCatchesFlaws runs the contract against broken devices in a
// child test process and checks that it fails, saying why.
func TestContractCatchesFlaws(t *testing.T) {
	for flaw, want := range map[string]string{
		"leak":  "a failed Infer left 1 buffers in the plugin zone",
		"short": "12 bytes for shape [1 4] of float32 (want 16)",
	} {
		t.Run(flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestContractPassesACorrectDevice$", "-test.v")
			cmd.Env = append(os.Environ(), "DEVICETEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(string(out), want) {
				t.Errorf("contract with a %s flaw: %v, want a failure saying %q:\n%s", flaw, err, want, out)
			}
		})
	}
}
