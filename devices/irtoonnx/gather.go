package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Gathers: Gather (v1, v7, v8), GatherND (v5, v8) and GatherElements.
// ONNX Gather has no batch_dims: with batch_dims > 0 the gathered axis is
// moved next to the batch dims and ONNX GatherND (which has batch_dims)
// picks one index per batch, then the result is transposed into Gather's
// order.

func init() {
	register("Gather", opsets(1), "Gather", "", func(c *Ctx) error { return gatherGather(c, false, false) })
	register("Gather", opsets(7), "Gather, or Transpose + GatherND(batch_dims) + Transpose", "batch_dims > 0 needs the ranks of data and indices", func(c *Ctx) error { return gatherGather(c, true, false) })
	register("Gather", opsets(8), "Gather or GatherND(batch_dims), Where", "negative indices count from the end; out-of-range indices give zeros (spec); needs the ranks of data and indices", func(c *Ctx) error { return gatherGather(c, true, true) })
	register("GatherND", opsets(5), "GatherND, Reshape", "batch_dims > 0 flattens the batch dims into one (v5 output shape)", func(c *Ctx) error { return gatherND(c, true) })
	register("GatherND", opsets(8), "GatherND", "", func(c *Ctx) error { return gatherND(c, false) })
	register("GatherElements", opsets(6), "GatherElements", "", func(c *Ctx) error {
		axis, err := c.AttrInt("axis", 0)
		if err != nil {
			return err
		}
		c.Set(0, c.Node("GatherElements", []Value{c.In(0), mvI64(c, 1)}, onnxmodel.AttrInt("axis", axis)))
		return nil
	})
}

// gatherGather translates Gather; batch says the version has batch_dims,
// v8 that negative indices count from the end and out-of-range indices
// give zeros.
func gatherGather(c *Ctx, batch, v8 bool) error {
	axis, err := mvScalarInput(c, 2, "axis")
	if err != nil {
		return err
	}
	var b int64
	if batch {
		if b, err = c.AttrInt("batch_dims", 0); err != nil {
			return err
		}
	}
	if b == 0 && !v8 {
		c.Set(0, c.Node("Gather", []Value{c.In(0), c.In(1)}, onnxmodel.AttrInt("axis", axis)))
		return nil
	}
	dr, err := c.InRank(0)
	if err != nil {
		return Unsupported("Gather with batch_dims=%d or v8 index rules needs the rank of data: %v", b, err)
	}
	ir, err := c.InRank(1)
	if err != nil {
		return Unsupported("Gather with batch_dims=%d or v8 index rules needs the rank of indices: %v", b, err)
	}
	if axis, err = mvNormAxis(axis, dr); err != nil {
		return err
	}
	if b < 0 {
		b += int64(ir)
	}
	if b < 0 || b > axis || b > int64(ir) {
		return Unsupported("batch_dims=%d with axis %d and indices of rank %d", b, axis, ir)
	}
	idx := mvI64(c, 1)
	if v8 {
		if folded, ok := gatherConstIndices(c, axis); ok {
			idx, v8 = folded, false // every index in range: no mask needed
		}
	}
	var valid Value
	if v8 {
		dim := mvDim(c, c.In(0), axis)
		neg := c.Node("Less", []Value{idx, c.Int(0)})
		valid = c.Node("And", []Value{
			c.Node("GreaterOrEqual", []Value{idx, c.Node("Neg", []Value{dim})}),
			c.Node("Less", []Value{idx, dim}),
		})
		idx = c.Node("Where", []Value{neg, c.Node("Add", []Value{idx, dim}), idx})
		idx = c.Node("Where", []Value{valid, idx, c.Int(0)})
	}
	k := int64(ir) - b // index dims after the batch dims
	var out Value
	if b == 0 {
		out = c.Node("Gather", []Value{c.In(0), idx}, onnxmodel.AttrInt("axis", axis))
	} else {
		// data with axis moved to position b: [batch, axis, data[b:axis], data[axis+1:]]
		perm := append(mvSeq(0, b), axis)
		perm = append(perm, mvSeq(b, axis)...)
		perm = append(perm, mvSeq(axis+1, int64(dr))...)
		data := mvTranspose(c, c.In(0), perm)
		g := c.Node("GatherND", []Value{data, c.Node("Unsqueeze", []Value{idx, c.Ints(-1)})}, onnxmodel.AttrInt("batch_dims", b))
		// g is [batch, idx[b:], data[b:axis], data[axis+1:]]: put the
		// index dims after data[b:axis].
		m := axis - b
		outRank := int64(dr) - 1 + k
		back := append(mvSeq(0, b), mvSeq(b+k, b+k+m)...)
		back = append(back, mvSeq(b, b+k)...)
		back = append(back, mvSeq(b+k+m, outRank)...)
		out = mvTranspose(c, g, back)
	}
	if v8 {
		// valid has indices' shape [batch, idx[b:]]; the output is
		// [batch, data[b:axis], idx[b:], data[axis+1:]].
		outRank := int64(dr) - 1 + k
		axes := append(mvSeq(b, axis), mvSeq(axis+k, outRank)...)
		if len(axes) > 0 {
			valid = c.Node("Unsqueeze", []Value{valid, c.Ints(axes...)})
		}
		out = where(c, valid, out, c.Scalar(c.InType(0), 0), c.InType(0))
	}
	c.Set(0, out)
	return nil
}

// gatherConstIndices returns constant indices made non-negative when they
// all lie in [-d, d) for the static size d of data's axis; ok is false
// when the indices are computed, the dim is dynamic or an index is out of
// range (then the v8 zero fill is built).
func gatherConstIndices(c *Ctx, axis int64) (Value, bool) {
	l := c.Const(1)
	s, known := c.InShape(0)
	if l == nil || !known || !s[axis].Static() {
		return Value{}, false
	}
	vals, err := c.ConstInts(1)
	if err != nil {
		return Value{}, false
	}
	_, shape, err := l.ConstType()
	if err != nil {
		return Value{}, false
	}
	d := s[axis].Size()
	norm := make([]int64, len(vals))
	for i, v := range vals {
		if v < -d || v >= d {
			return Value{}, false
		}
		if v < 0 {
			v += d
		}
		norm[i] = v
	}
	return c.Tensor(onnxmodel.Int64Tensor("", shape.Sizes(), norm)), true
}

// gatherND translates GatherND; flatten gives v5's output shape, where the
// batch dims become one.
func gatherND(c *Ctx, flatten bool) error {
	b, err := c.AttrInt("batch_dims", 0)
	if err != nil {
		return err
	}
	out := c.Node("GatherND", []Value{c.In(0), mvI64(c, 1)}, onnxmodel.AttrInt("batch_dims", b))
	if flatten && b > 1 {
		tail := c.Node("Shape", []Value{out}, onnxmodel.AttrInt("start", b))
		out = c.Node("Reshape", []Value{out, c.Node("Concat", []Value{c.Ints(-1), tail}, onnxmodel.AttrInt("axis", 0))})
	}
	c.Set(0, out)
	return nil
}
