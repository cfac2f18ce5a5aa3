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

// TestLoadIRRanges: the dimension ranges of an IR input reach its
// TensorInfo as ShapeMin/ShapeMax (Shape keeps -1); unbounded and static
// dimensions repeat Shape; a configured shape replaces the ranges, a
// batch_size leaves the other dimensions' ranges, a layout conversion
// drops them; an input without a range has none.
func TestLoadIRRanges(t *testing.T) {
	requireORT(t)
	n := irtest.New("ranges")
	x := n.Op("Parameter", "opset1", map[string]string{"shape": "1..4,?,2..6,3", "element_type": "f32"}, nil,
		irtest.Port{Type: irmodel.F32, Shape: "1..4,?,2..6,3", Names: "x"})[0]
	x = n.Name(x, "x")
	y := n.Op("Parameter", "opset1", map[string]string{"shape": "?,3", "element_type": "f32"}, nil,
		irtest.Port{Type: irmodel.F32, Shape: "?,3", Names: "y"})[0]
	y = n.Name(y, "y")
	n.Result(n.Op("Relu", "opset1", nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "1..4,?,2..6,3", Names: "out"})[0], "out/sink")
	n.Result(n.Op("Relu", "opset1", nil, []irtest.Out{y}, irtest.Port{Type: irmodel.F32, Shape: "?,3", Names: "out2"})[0], "out2/sink")
	dir := filepath.Join(t.TempDir(), "1")
	writeIR(t, dir, n)
	log := logrus.NewEntry(logrus.New())
	load := func(req device.LoadRequest) (x, y device.TensorInfo) {
		t.Helper()
		req.Path = dir
		m, err := loadModel(context.Background(), &req, "", engineOpts{}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer m.close()
		if len(m.info.Warnings) != 0 {
			t.Fatalf("warnings %v", m.info.Warnings)
		}
		for _, in := range m.info.Inputs {
			if in.Name == "x" {
				x = in
			} else {
				y = in
			}
		}
		return x, y
	}

	x1, y1 := load(device.LoadRequest{})
	if !slices.Equal(x1.Shape, []int64{-1, -1, -1, 3}) || !slices.Equal(x1.ShapeMin, []int64{1, -1, 2, 3}) || !slices.Equal(x1.ShapeMax, []int64{4, -1, 6, 3}) {
		t.Errorf("x: %+v", x1)
	}
	if x1.ShapeString() != "([1~4],-1,[2~6],3)" || !x1.Bounded(0) || x1.Bounded(1) || x1.Bounded(3) {
		t.Errorf("x: %s", x1.ShapeString())
	}
	if y1.ShapeMin != nil || y1.ShapeMax != nil {
		t.Errorf("y has no range: %+v", y1)
	}

	x2, _ := load(device.LoadRequest{Shapes: map[string][]int64{"x": {2, 5, -1, 3}}})
	if !slices.Equal(x2.Shape, []int64{2, 5, -1, 3}) || x2.ShapeMax != nil {
		t.Errorf("configured shape replaces the ranges: %+v", x2)
	}

	x3, _ := load(device.LoadRequest{BatchSize: 2})
	if !slices.Equal(x3.Shape, []int64{2, -1, -1, 3}) || !slices.Equal(x3.ShapeMin, []int64{2, -1, 2, 3}) || !slices.Equal(x3.ShapeMax, []int64{2, -1, 6, 3}) {
		t.Errorf("batch_size keeps the other ranges: %+v", x3)
	}

	x4, _ := load(device.LoadRequest{Layouts: map[string]string{"x": "NHWC:NCHW"}})
	if x4.ShapeMax != nil {
		t.Errorf("a layout conversion drops the ranges: %+v", x4)
	}
}
