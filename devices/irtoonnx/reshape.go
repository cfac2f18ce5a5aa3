package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Shape manipulation: Reshape, Transpose, Concat, Split, VariadicSplit,
// Squeeze, Unsqueeze and ShapeOf.

func init() {
	register("Reshape", opsets(1), "Reshape", "special_zero=true: 0 copies the input dim (allowzero=0); false: 0 is a zero-size dim (allowzero=1); -1 is inferred", reshapeReshape)
	register("Transpose", opsets(1), "Transpose", "order must be a constant; an empty order reverses the dims", reshapeTranspose)
	register("Concat", opsets(1), "Concat", "", func(c *Ctx) error {
		axis, err := c.AttrInt("axis", 0)
		if err != nil {
			return err
		}
		ins := make([]Value, c.NumInputs())
		for i := range ins {
			ins[i] = c.In(i)
		}
		c.Set(0, c.Node("Concat", ins, onnxmodel.AttrInt("axis", axis)))
		return nil
	})
	register("Split", opsets(1), "Split (num_outputs)", "axis must be a constant", reshapeSplit)
	register("VariadicSplit", opsets(1), "Split (split input)", "axis must be a constant; a -1 length takes the rest of the dim, computed at run time when the dim is dynamic", reshapeVariadicSplit)
	register("Squeeze", opsets(1), "Squeeze", "constant axes that point at a static dim other than 1 are ignored, as the spec says", reshapeSqueeze)
	register("Unsqueeze", opsets(1), "Unsqueeze", "", func(c *Ctx) error {
		c.Set(0, c.Node("Unsqueeze", []Value{c.In(0), axesInput(c, 1)}))
		return nil
	})
	register("ShapeOf", opsets(1, 3), "Shape, Cast", "v3 output_type i32 or i64", func(c *Ctx) error {
		t := irmodel.ElementType(c.AttrString("output_type", "i64"))
		if c.L.Version == "opset1" {
			t = irmodel.I64
		}
		if t != irmodel.I64 && t != irmodel.I32 {
			return Unsupported("output_type=%q", t)
		}
		c.Set(0, mvTo(c, c.Node("Shape", []Value{c.In(0)}), irmodel.I64, t))
		return nil
	})
}

func reshapeReshape(c *Ctx) error {
	sz, err := c.AttrBool("special_zero", false)
	if err != nil {
		return err
	}
	allowZero := int64(1)
	if sz {
		allowZero = 0
	}
	var shape Value
	if v, err := c.ConstInts(1); err == nil {
		shape = c.Ints(v...)
	} else {
		shape = c.Node("Reshape", []Value{mvI64(c, 1), c.Ints(-1)})
	}
	c.Set(0, c.Node("Reshape", []Value{c.In(0), shape}, onnxmodel.AttrInt("allowzero", allowZero)))
	return nil
}

func reshapeTranspose(c *Ctx) error {
	order, err := c.ConstInts(1)
	if err != nil {
		return Unsupported("order (input 1) must be a constant")
	}
	if len(order) == 0 { // ONNX Transpose without perm reverses the dims too
		c.Set(0, c.Node("Transpose", []Value{c.In(0)}))
		return nil
	}
	perm := make([]int64, len(order))
	for i, o := range order {
		if perm[i], err = mvNormAxis(o, len(order)); err != nil {
			return err
		}
	}
	c.Set(0, c.Node("Transpose", []Value{c.In(0)}, onnxmodel.AttrInts("perm", perm...)))
	return nil
}

func reshapeSplit(c *Ctx) error {
	axis, err := mvScalarInput(c, 1, "axis")
	if err != nil {
		return err
	}
	n, err := c.AttrInt("num_splits", 0)
	if err != nil {
		return err
	}
	if n < 1 || int(n) != c.NumOutputs() {
		return Unsupported("num_splits=%d with %d outputs", n, c.NumOutputs())
	}
	if n == 1 {
		c.Set(0, c.Node("Identity", []Value{c.In(0)}))
		return nil
	}
	outs := c.MultiNode("Split", int(n), []Value{c.In(0)}, onnxmodel.AttrInt("axis", axis), onnxmodel.AttrInt("num_outputs", n))
	for i, o := range outs {
		c.Set(i, o)
	}
	return nil
}

func reshapeVariadicSplit(c *Ctx) error {
	axis, err := mvScalarInput(c, 1, "axis")
	if err != nil {
		return err
	}
	var lengths Value
	if ls, err := c.ConstInts(2); err == nil {
		if len(ls) != c.NumOutputs() {
			return Unsupported("%d split_lengths for %d outputs", len(ls), c.NumOutputs())
		}
		rest, sum := -1, int64(0)
		for i, l := range ls {
			if l == -1 {
				rest = i
			} else {
				sum += l
			}
		}
		if rest >= 0 {
			if s, ok := c.InShape(0); ok {
				if a, err := mvNormAxis(axis, len(s)); err == nil && s[a].Static() {
					ls[rest] = s[a].Size() - sum
					rest = -1
				}
			}
		}
		if rest < 0 {
			lengths = c.Ints(ls...)
		} else { // the dim is dynamic: rest = dim - sum of the others
			lengths = reshapeFillRest(c, c.Ints(ls...), axis)
		}
	} else {
		lengths = reshapeFillRest(c, c.Node("Reshape", []Value{mvI64(c, 2), c.Ints(-1)}), axis)
	}
	outs := c.MultiNode("Split", c.NumOutputs(), []Value{c.In(0), lengths}, onnxmodel.AttrInt("axis", axis))
	for i, o := range outs {
		c.Set(i, o)
	}
	return nil
}

// reshapeFillRest replaces the -1 in lengths with what the other lengths
// leave of dim axis of input 0 (sum(lengths) counts the -1, hence the +1).
func reshapeFillRest(c *Ctx, lengths Value, axis int64) Value {
	var dim Value
	if axis < 0 {
		r, err := c.InRank(0)
		if err != nil { // Shape's start takes a negative axis too
			dim = c.Node("Squeeze", []Value{c.Node("Shape", []Value{c.In(0)}, onnxmodel.AttrInt("start", axis), onnxmodel.AttrInt("end", axis+1)), c.Ints(0)})
		} else {
			dim = mvDim(c, c.In(0), axis+int64(r))
		}
	} else {
		dim = mvDim(c, c.In(0), axis)
	}
	sum := c.Node("ReduceSum", []Value{lengths, c.Ints(0)}, onnxmodel.AttrInt("keepdims", 0))
	rest := c.Node("Sub", []Value{dim, c.Node("Add", []Value{sum, c.Int(1)})})
	return c.Node("Where", []Value{c.Node("Equal", []Value{lengths, c.Int(-1)}), rest, lengths})
}

func reshapeSqueeze(c *Ctx) error {
	if c.NumInputs() < 2 {
		c.Set(0, c.Node("Squeeze", []Value{c.In(0)}))
		return nil
	}
	axes, err := c.ConstInts(1)
	if err != nil {
		c.Set(0, c.Node("Squeeze", []Value{c.In(0), axesInput(c, 1)}))
		return nil
	}
	if len(axes) == 0 {
		c.Set(0, c.Node("Squeeze", []Value{c.In(0)}))
		return nil
	}
	if s, ok := c.InShape(0); ok {
		var keep []int64
		for _, a := range axes {
			n, err := mvNormAxis(a, len(s))
			if err != nil {
				return err
			}
			if s[n].Static() && s[n].Size() != 1 {
				continue // not squeezable: the spec ignores it
			}
			keep = append(keep, n)
		}
		if len(keep) == 0 {
			c.Set(0, c.Node("Identity", []Value{c.In(0)}))
			return nil
		}
		axes = keep
	}
	c.Set(0, c.Node("Squeeze", []Value{c.In(0), c.Ints(axes...)}))
	return nil
}
