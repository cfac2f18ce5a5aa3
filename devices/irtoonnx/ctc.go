package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// CTCGreedyDecoder-1: best-path decoding of data [T, N, C] with the blank
// class C-1. The class of each frame is ArgMax over C; a frame emits its
// class where sequence_mask is non-zero, the class is not the blank and,
// with ctc_merge_repeated, it differs from the previous frame's class. The
// emitted classes are moved to the front of each row by a stable sort on
// the key "t for emitted frames, T + t for the others" and the rest of the
// row is -1. The output is [N, T, 1, 1] in data's type.

func init() {
	register("CTCGreedyDecoder", opsets(1), "ArgMax, TopK, GatherElements, Where", "", ctcGreedyOp)
}

func ctcGreedyOp(c *Ctx) error {
	merge, err := c.AttrBool("ctc_merge_repeated", true)
	if err != nil {
		return err
	}
	data := c.In(0)
	tDim := shapeDims(c, data, 0, 1) // [1]
	blank := c.Node("Sub", []Value{shapeDims(c, data, 2, 3), c.Ints(1)})
	perm := onnxmodel.AttrInts("perm", 1, 0)
	cls := c.Node("Transpose", []Value{c.Node("ArgMax", []Value{data}, onnxmodel.AttrInt("axis", 2), onnxmodel.AttrInt("keepdims", 0))}, perm) // [N, T]
	valid := c.Node("Not", []Value{c.Node("Equal", []Value{c.Node("Transpose", []Value{c.In(1)}, perm), c.Scalar(c.InType(1), 0)})})
	emit := c.Node("And", []Value{valid, c.Node("Not", []Value{c.Node("Equal", []Value{cls, blank})})})
	if merge {
		nDim := shapeDims(c, cls, 0, 1)
		first := c.Node("Expand", []Value{c.Int(-1), c.Node("Concat", []Value{nDim, c.Ints(1)}, onnxmodel.AttrInt("axis", 0))})
		prev := c.Node("Concat", []Value{first, c.Node("Slice", []Value{cls, c.Ints(0), c.Ints(-1), c.Ints(1)})}, onnxmodel.AttrInt("axis", 1))
		emit = c.Node("And", []Value{emit, c.Node("Not", []Value{c.Node("Equal", []Value{cls, prev})})})
	}
	tScalar := c.Node("Reshape", []Value{tDim, c.Ints()})
	steps := c.Cast(c.Node("Range", []Value{c.Int(0), tScalar, c.Int(1)}), irmodel.F32) // [T]
	tf := c.Cast(tScalar, irmodel.F32)
	key := c.Node("Where", []Value{emit, steps, c.Node("Add", []Value{steps, tf})})
	order := c.MultiNode("TopK", 2, []Value{key, tDim}, onnxmodel.AttrInt("axis", 1), onnxmodel.AttrInt("largest", 0), onnxmodel.AttrInt("sorted", 1))[1]
	sorted := c.Node("GatherElements", []Value{cls, order}, onnxmodel.AttrInt("axis", 1))
	count := c.Node("ReduceSum", []Value{c.Cast(emit, irmodel.F32), c.Ints(1)}, onnxmodel.AttrInt("keepdims", 1)) // [N, 1]
	out := c.Node("Where", []Value{c.Node("Less", []Value{steps, count}), sorted, c.Int(-1)})
	t := c.OutType(0)
	if t == "" {
		t = c.InType(0)
	}
	c.Set(0, c.Node("Unsqueeze", []Value{c.Cast(out, t), c.Ints(2, 3)}))
	return nil
}
