package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Helpers more than one op family uses.

// floatInput refuses an input 0 that is not floating-point (the ops whose
// specs allow only those).
func floatInput(c *Ctx) error {
	if t := c.InType(0); !isFloat(t) {
		return Unsupported("input type %s", t)
	}
	return nil
}

// axesInput is input i (a scalar or 1-D list of axes) as the 1-D INT64
// tensor ONNX takes: an initializer when it is a constant, else cast and,
// unless it is declared 1-D, reshaped.
func axesInput(c *Ctx, i int) Value {
	if vals, err := c.ConstInts(i); err == nil {
		return c.Ints(vals...)
	}
	v := mvI64(c, i)
	if s, ok := c.InShape(i); ok && len(s) == 1 {
		return v
	}
	return c.Node("Reshape", []Value{v, c.Ints(-1)})
}

// shapeDims is dims [from, to) of v's shape as a 1-D INT64 value.
func shapeDims(c *Ctx, v Value, from, to int64) Value {
	return c.Node("Shape", []Value{v}, onnxmodel.AttrInt("start", from), onnxmodel.AttrInt("end", to))
}

// where is ONNX Where(cond, a, b) for a and b of type t. ONNX Runtime's
// Where has no kernel for i8 or boolean: those go through u8 and back,
// which keeps every bit pattern.
func where(c *Ctx, cond, a, b Value, t irmodel.ElementType) Value {
	if t != irmodel.I8 && t != irmodel.Boolean {
		return c.Node("Where", []Value{cond, a, b})
	}
	v := c.Node("Where", []Value{cond, c.Cast(a, irmodel.U8), c.Cast(b, irmodel.U8)})
	return c.Cast(v, t)
}
