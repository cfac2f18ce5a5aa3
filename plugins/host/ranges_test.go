package host

import (
	"reflect"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

// TestTensorInfoRanges: dimension ranges survive the protocol, are written
// as OVMS's Dimension::toString ("[1~4]", -1, the size) and bound InRange.
func TestTensorInfoRanges(t *testing.T) {
	in := []TensorInfo{
		{Name: "x", DType: device.Float32, Shape: []int64{-1, -1, 10}, ShapeMin: []int64{1, -1, 10}, ShapeMax: []int64{4, -1, 10}},
		{Name: "y", DType: device.Float32, Shape: []int64{-1, 3}},
	}
	got := infosFromProto(infosToProto(in))
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip: %+v", got)
	}
	x, y := got[0], got[1]
	if s := x.ShapeString(); s != "([1~4],-1,10)" {
		t.Errorf("x: %s", s)
	}
	if s := y.ShapeString(); s != "(-1,3)" {
		t.Errorf("y: %s", s)
	}
	for _, c := range []struct {
		i    int
		d    int64
		want bool
	}{{0, 0, false}, {0, 1, true}, {0, 4, true}, {0, 5, false}, {1, 0, true}, {1, 99, true}, {2, 10, true}, {2, 9, false}} {
		if x.InRange(c.i, c.d) != c.want {
			t.Errorf("x.InRange(%d, %d) = %v", c.i, c.d, !c.want)
		}
	}
	if !y.InRange(0, 1000) || y.InRange(1, 4) || y.Bounded(0) {
		t.Errorf("y without ranges")
	}
}
