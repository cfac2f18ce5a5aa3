package irtoonnx

import (
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// accumulatorNet is y = state + x; state = y: ReadValue of version ver
// (initial value init, or none for ReadValue-6's zeros) and Assign.
func accumulatorNet(ver string, init bool) *irtest.Net {
	n := irtest.New("acc")
	x := n.Parameter("x", irmodel.F32, "2,3")
	var ins []irtest.Out
	if init {
		ins = append(ins, n.F32([]int64{2, 3}, 10, 20, 30, 40, 50, 60))
	}
	attrs := map[string]string{"variable_id": "acc"}
	if ver == "opset6" {
		attrs["variable_type"] = "f32"
		attrs["variable_shape"] = "2,3"
	}
	rv := n.Op("ReadValue", ver, attrs, ins, irtest.Port{Type: irmodel.F32, Shape: "2,3"})
	y := n.Op("Add", "opset1", nil, []irtest.Out{rv[0], x}, irtest.Port{Type: irmodel.F32, Shape: "2,3", Names: "y"})
	n.Op("Assign", ver, map[string]string{"variable_id": "acc"}, []irtest.Out{y[0]}, irtest.Port{Type: irmodel.F32, Shape: "2,3"})
	n.Result(y[0], "out")
	return n
}

func TestReadValueAssignCarryState(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		ver  string
		init bool
		base []float32
	}{
		{"opset3", true, []float32{10, 20, 30, 40, 50, 60}},
		{"opset6", true, []float32{10, 20, 30, 40, 50, 60}},
		{"opset6", false, make([]float32, 6)},
	} {
		t.Run(tc.ver, func(t *testing.T) {
			net := accumulatorNet(tc.ver, tc.init)
			r := translateNet(t, net)
			var in, out []string
			for _, v := range r.Inputs {
				in = append(in, v.Name)
			}
			for _, v := range r.Outputs {
				out = append(out, v.Name)
			}
			if !slices.Equal(in, []string{"x", StateInputName("acc")}) || !slices.Equal(out, []string{"y", StateOutputName("acc")}) {
				t.Fatalf("inputs %v, outputs %v", in, out)
			}
			// The first request has no state: the initial value is used.
			res := run(t, net, f32("x", []int64{2, 3}, x...), f32(StateInputName("acc"), []int64{0, 3}))
			want := make([]float32, 6)
			for i := range want {
				want[i] = tc.base[i] + x[i]
			}
			near(t, "y", res["y"].F32(), want, 0)
			near(t, "new state", res[StateOutputName("acc")].F32(), want, 0)
			// The next request carries it.
			res = run(t, net, f32("x", []int64{2, 3}, x...), f32(StateInputName("acc"), []int64{2, 3}, want...))
			for i := range want {
				want[i] += x[i]
			}
			near(t, "y after one step", res["y"].F32(), want, 0)
		})
	}
}

func TestReadValueWithoutInitNeedsStaticShape(t *testing.T) {
	n := irtest.New("s")
	x := n.Parameter("x", irmodel.F32, "?,3")
	rv := n.Op("ReadValue", "opset6", map[string]string{"variable_id": "v", "variable_type": "f32", "variable_shape": "?,3"}, nil, irtest.Port{Type: irmodel.F32, Shape: "?,3"})
	y := n.Op("Add", "opset1", nil, []irtest.Out{rv[0], x}, irtest.Port{Type: irmodel.F32, Shape: "?,3"})
	n.Result(y[0], "out")
	xml, bin := n.Bytes()
	m, err := irmodel.Parse(xml, bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Translate(m, Options{}); err == nil || !containsAll(err.Error(), "ReadValue-opset6", "variable_shape") {
		t.Fatalf("got %v", err)
	}
}
