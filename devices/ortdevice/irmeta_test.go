package ortdevice

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestLoadIRNamesAndMetadata: an IR model reports the other names of its
// tensors as aliases, its input layout from rt_info and its model_info;
// batch_size sets the N of the IR's layout.
func TestLoadIRNamesAndMetadata(t *testing.T) {
	requireORT(t)
	n := irtest.New("meta")
	x := n.Op("Parameter", "opset1", map[string]string{"shape": "3,1,2", "element_type": "f32"}, nil,
		irtest.Port{Type: irmodel.F32, Shape: "3,1,2", Names: "input,input:0",
			RTInfo: `<attribute name="layout" version="0" layout="[C,N,W]"/>`})[0]
	x = n.Name(x, "input")
	y := n.Op("Relu", "opset1", nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "3,1,2", Names: "out:0,out"})[0]
	n.Result(y, "out/sink")
	n.SetRTInfo(`<model_info><model_type value="demo"/></model_info>`)
	dir := filepath.Join(t.TempDir(), "1")
	writeIR(t, dir, n)
	log := logrus.NewEntry(logrus.New())
	m, err := loadModel(context.Background(), &device.LoadRequest{Path: dir}, "", engineOpts{}, log)
	if err != nil {
		t.Fatal(err)
	}
	in, out := m.info.Inputs[0], m.info.Outputs[0]
	m.close()
	if in.Name != "input" || !slices.Equal(in.Aliases, []string{"input:0"}) || in.Layout != "CNW" {
		t.Errorf("input %+v", in)
	}
	if out.Name != "out" || !slices.Equal(out.Aliases, []string{"out:0"}) {
		t.Errorf("output %+v", out)
	}
	if string(m.info.RTInfo) != `{"model_info":{"model_type":"demo"}}` {
		t.Errorf("rt_info %s", m.info.RTInfo)
	}
	n = irtest.New("meta4")
	x = n.Op("Parameter", "opset1", map[string]string{"shape": "3,1,2,2", "element_type": "f32"}, nil,
		irtest.Port{Type: irmodel.F32, Shape: "3,1,2,2", Names: "input",
			RTInfo: `<attribute name="layout" version="0" layout="[C,N,H,W]"/>`})[0]
	x = n.Name(x, "input")
	n.Result(n.Op("Relu", "opset1", nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "3,1,2,2", Names: "out"})[0], "out/sink")
	dir = filepath.Join(t.TempDir(), "1")
	writeIR(t, dir, n)
	m, err = loadModel(context.Background(), &device.LoadRequest{Path: dir, BatchSize: 4}, "", engineOpts{}, log)
	if err != nil {
		t.Fatal(err)
	}
	in = m.info.Inputs[0]
	m.close()
	if in.Layout != "CNHW" || !slices.Equal(in.Shape, []int64{3, 4, 2, 2}) || len(m.info.Warnings) != 0 {
		t.Errorf("batch_size on the IR's N: %+v %v", in, m.info.Warnings)
	}
}
