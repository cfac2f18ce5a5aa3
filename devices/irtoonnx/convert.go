package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
)

// Type conversion: Convert and ConvertLike become ONNX Cast. They also
// carry the weight decompression of compressed IR (f16 or u8/i8/u4
// constants converted to f32, then shifted by a zero point and scaled),
// which needs nothing beyond Cast and the elementwise ops.

func init() {
	register("Convert", opsets(1), "Cast",
		"float to integer truncates toward zero; destination types u1, u4, i4 and string are not translated", func(c *Ctx) error {
			dst, err := irmodel.ParseElementType(c.AttrString("destination_type", ""))
			if err != nil {
				return Unsupported("destination_type=%q", c.AttrString("destination_type", ""))
			}
			return convertTo(c, dst)
		})
	register("ConvertLike", opsets(1), "Cast", "to the element type of the second input", func(c *Ctx) error {
		return convertTo(c, c.InType(1))
	})
}

// convertTo casts input 0 to dst.
func convertTo(c *Ctx, dst irmodel.ElementType) error {
	switch dst {
	case irmodel.U1, irmodel.U4, irmodel.I4, irmodel.String, irmodel.Dynamic, "":
		return Unsupported("destination_type=%q", string(dst))
	}
	if src := c.InType(0); src == irmodel.String || src == irmodel.Dynamic {
		return Unsupported("input type %s", src)
	}
	c.Set(0, c.Cast(c.In(0), dst))
	return nil
}
