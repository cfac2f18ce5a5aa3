package irtoonnx

import (
	"strings"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Einsum-7 as ONNX Einsum: both take the same equation syntax (explicit
// "->" output or implicit, ellipsis, repeated labels for diagonals).

func init() {
	register("Einsum", opsets(7), "Einsum", "", func(c *Ctx) error {
		eq, ok := c.Attr("equation")
		if !ok || eq == "" {
			return Unsupported("equation missing")
		}
		ins := make([]Value, c.NumInputs())
		for i := range ins {
			ins[i] = c.In(i)
		}
		c.Set(0, c.Node("Einsum", ins, onnxmodel.AttrString("equation", strings.ReplaceAll(eq, " ", ""))))
		return nil
	})
}
