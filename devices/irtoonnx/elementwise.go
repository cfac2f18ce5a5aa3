package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Elementwise arithmetic, comparison and logic with NumPy broadcasting
// (auto_broadcast "numpy", the default, or "none" for equal shapes, which
// ONNX computes the same way).

func init() {
	binary := map[string]string{
		"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div", "Power": "Pow",
		"Maximum": "Max", "Minimum": "Min", "Equal": "Equal", "Less": "Less", "LessEqual": "LessOrEqual",
		"Greater": "Greater", "GreaterEqual": "GreaterOrEqual", "LogicalAnd": "And", "LogicalOr": "Or", "LogicalXor": "Xor",
	}
	for ir, onnx := range binary {
		note := ""
		if ir == "Divide" {
			note = "integer division rounds toward zero unless m_pythondiv (the default) asks for floor division"
		}
		register(ir, opsets(1), onnx, note, binaryOp(onnx))
	}
	register("NotEqual", opsets(1), "Equal, Not", "", func(c *Ctx) error {
		if err := checkBroadcast(c); err != nil {
			return err
		}
		c.Set(0, c.Node("Not", []Value{c.Node("Equal", []Value{c.In(0), c.In(1)})}))
		return nil
	})
	register("SquaredDifference", opsets(1), "Sub, Mul", "", func(c *Ctx) error {
		if err := checkBroadcast(c); err != nil {
			return err
		}
		d := c.Node("Sub", []Value{c.In(0), c.In(1)})
		c.Set(0, c.Node("Mul", []Value{d, d}))
		return nil
	})
	register("FloorMod", opsets(1), "Mod (fmod=0), or a - floor(a/b)*b for floats", "result takes the sign of the divisor", func(c *Ctx) error {
		if err := checkBroadcast(c); err != nil {
			return err
		}
		if isFloat(c.InType(0)) {
			q := c.Node("Floor", []Value{c.Node("Div", []Value{c.In(0), c.In(1)})})
			c.Set(0, c.Node("Sub", []Value{c.In(0), c.Node("Mul", []Value{q, c.In(1)})}))
			return nil
		}
		c.Set(0, c.Node("Mod", []Value{c.In(0), c.In(1)}, onnxmodel.AttrInt("fmod", 0)))
		return nil
	})
	register("Mod", opsets(1), "Mod (fmod=1)", "result takes the sign of the dividend", func(c *Ctx) error {
		if err := checkBroadcast(c); err != nil {
			return err
		}
		c.Set(0, c.Node("Mod", []Value{c.In(0), c.In(1)}, onnxmodel.AttrInt("fmod", 1)))
		return nil
	})
	register("LogicalNot", opsets(1), "Not", "", func(c *Ctx) error {
		c.Set(0, c.Node("Not", []Value{c.In(0)}))
		return nil
	})
	register("Select", opsets(1), "Where", "", func(c *Ctx) error {
		if err := checkBroadcast(c); err != nil {
			return err
		}
		c.Set(0, where(c, c.In(0), c.In(1), c.In(2), c.InType(1)))
		return nil
	})
}

// binaryOp translates a two-input elementwise op to the ONNX op of the
// same meaning.
func binaryOp(onnx string) Translator {
	return func(c *Ctx) error {
		if err := checkBroadcast(c); err != nil {
			return err
		}
		if onnx == "Div" && isInt(c.InType(0)) {
			py, err := c.AttrBool("m_pythondiv", true)
			if err != nil {
				return err
			}
			if py { // floor division: a/b rounded down
				c.Set(0, floorDiv(c, c.In(0), c.In(1), c.InType(0)))
				return nil
			}
		}
		c.Set(0, c.Node(onnx, []Value{c.In(0), c.In(1)}))
		return nil
	}
}

// floorDiv is integer division rounded toward negative infinity: ONNX Div
// truncates, so one is taken off where the remainder is non-zero and the
// signs differ.
func floorDiv(c *Ctx, a, b Value, t irmodel.ElementType) Value {
	q := c.Node("Div", []Value{a, b})
	if isUnsigned(t) {
		return q
	}
	zero := c.Scalar(t, 0)
	rem := c.Node("Sub", []Value{a, c.Node("Mul", []Value{q, b})})
	nonzero := c.Node("Not", []Value{c.Node("Equal", []Value{rem, zero})})
	signsDiffer := c.Node("Xor", []Value{c.Node("Less", []Value{a, zero}), c.Node("Less", []Value{b, zero})})
	adjust := c.Node("Cast", []Value{c.Node("And", []Value{nonzero, signsDiffer})}, onnxmodel.AttrInt("to", int64(t.ONNX())))
	return c.Node("Sub", []Value{q, adjust})
}

// checkBroadcast accepts auto_broadcast numpy (the default) and none.
func checkBroadcast(c *Ctx) error {
	switch b := c.AttrString("auto_broadcast", "numpy"); b {
	case "numpy", "none", "":
		return nil
	default:
		return Unsupported("auto_broadcast=%q", b)
	}
}

func isFloat(t irmodel.ElementType) bool {
	return t == irmodel.F32 || t == irmodel.F16 || t == irmodel.F64 || t == irmodel.BF16
}

func isUnsigned(t irmodel.ElementType) bool {
	return t == irmodel.U8 || t == irmodel.U16 || t == irmodel.U32 || t == irmodel.U64 || t == irmodel.U4 || t == irmodel.U1
}

func isInt(t irmodel.ElementType) bool {
	return !isFloat(t) && t != irmodel.Boolean && t != irmodel.String && t != irmodel.Dynamic && t != ""
}
