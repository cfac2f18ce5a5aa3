package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Reductions (ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd,
// ReduceL1, ReduceL2) and CumSum. ONNX opset 18 takes reduction axes as an
// input, as IR does, so constant and computed axes are both translated;
// empty axes are the identity in OpenVINO (noop_with_empty_axes=1).

func init() {
	for _, op := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2"} {
		versions := opsets(1)
		if op == "ReduceL1" || op == "ReduceL2" {
			versions = opsets(4)
		}
		register(op, versions, op, "keep_dims; negative, constant or computed axes; empty axes leave the input as it is", reduceOp(op))
	}
	register("CumSum", opsets(3), "CumSum", "exclusive, reverse; axis from the optional second input, else 0", func(c *Ctx) error {
		t := c.InType(0)
		if !isFloat(t) && !isInt(t) {
			return Unsupported("input type %s", t)
		}
		var axis Value
		if c.NumInputs() > 1 {
			axis = reduceAxes(c, 1)
		} else {
			axis = c.Int(0)
		}
		excl, err := c.AttrBool("exclusive", false)
		if err != nil {
			return err
		}
		rev, err := c.AttrBool("reverse", false)
		if err != nil {
			return err
		}
		c.Set(0, c.Node("CumSum", []Value{c.In(0), axis},
			onnxmodel.AttrInt("exclusive", reduceBool(excl)), onnxmodel.AttrInt("reverse", reduceBool(rev))))
		return nil
	})
}

// reduceOp translates one IR reduction to the ONNX one of the same name.
func reduceOp(onnx string) Translator {
	return func(c *Ctx) error {
		t := c.InType(0)
		if !isFloat(t) && !isInt(t) {
			return Unsupported("input type %s", t)
		}
		keep, err := c.AttrBool("keep_dims", false)
		if err != nil {
			return err
		}
		axes := axesInput(c, 1)
		c.Set(0, c.Node(onnx, []Value{c.In(0), axes},
			onnxmodel.AttrInt("keepdims", reduceBool(keep)), onnxmodel.AttrInt("noop_with_empty_axes", 1)))
		return nil
	}
}

// reduceAxes is input i (axis indices) as INT64, kept in its shape: a
// constant becomes an initializer, a computed input is cast.
func reduceAxes(c *Ctx, i int) Value {
	if vals, err := c.ConstInts(i); err == nil {
		if s, ok := c.InShape(i); ok && len(s) == 0 && len(vals) == 1 {
			return c.Int(vals[0])
		}
		return c.Ints(vals...)
	}
	return mvI64(c, i)
}

// reduceBool is an ONNX boolean attribute value.
func reduceBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
