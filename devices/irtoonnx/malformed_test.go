package irtoonnx

import (
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// TestMalformedLayersSayWhatIsMissing gives every registered op a layer
// with one f32 input and one output: each translator that needs more must
// fail with a message naming the missing port, not an index-out-of-range
// runtime error.
func TestMalformedLayersSayWhatIsMissing(t *testing.T) {
	for key, e := range registry {
		ver := strings.TrimPrefix(key, e.Type+"-")
		n := irtest.New("m")
		x := n.Parameter("x", irmodel.F32, "1,2,3,4")
		y := n.Op(e.Type, ver, nil, []irtest.Out{x}, irtest.Port{Type: irmodel.F32, Shape: "1,2,3,4"})
		n.Result(y[0], "y/sink")
		msg := opsTranslateErr(t, n)
		if strings.Contains(msg, "runtime error") {
			t.Errorf("%s: %s", key, msg)
		}
	}
}
