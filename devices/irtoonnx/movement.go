package irtoonnx

import (
	"math"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Helpers shared by the data-movement families (reshape.go, gather.go,
// scatter.go, slice.go, broadcast.go, topk.go, misc.go). Their names start
// with mv so they do not collide with other families' helpers.

// mvMaxInt and mvMinInt are the open ends ONNX Slice clamps to the
// dimension.
const (
	mvMaxInt = int64(math.MaxInt64)
	mvMinInt = int64(math.MinInt64)
)

// mvNormAxis turns a possibly negative axis into [0, rank).
func mvNormAxis(axis int64, rank int) (int64, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, Unsupported("axis %d is out of range for rank %d", axis, rank)
	}
	return axis, nil
}

// mvI64 is input i as INT64 (ONNX wants int64 shapes, axes and most
// indices).
func mvI64(c *Ctx, i int) Value {
	if c.InType(i) == irmodel.I64 {
		return c.In(i)
	}
	return c.Cast(c.In(i), irmodel.I64)
}

// mvTo converts v of type from to type to, or returns it when they agree.
func mvTo(c *Ctx, v Value, from, to irmodel.ElementType) Value {
	if from == to || to == "" || to == irmodel.Dynamic {
		return v
	}
	return c.Cast(v, to)
}

// mvDim is dimension axis of v as a scalar INT64.
func mvDim(c *Ctx, v Value, axis int64) Value {
	d := c.Node("Shape", []Value{v}, onnxmodel.AttrInt("start", axis), onnxmodel.AttrInt("end", axis+1))
	return c.Node("Squeeze", []Value{d, c.Ints(0)})
}

// mvScalarInput reads constant input i as one integer (a scalar or a
// one-element 1-D tensor).
func mvScalarInput(c *Ctx, i int, what string) (int64, error) {
	v, err := c.ConstInts(i)
	if err != nil {
		return 0, Unsupported("%s (input %d) must be a constant", what, i)
	}
	if len(v) != 1 {
		return 0, Unsupported("%s (input %d) must hold one value, not %d", what, i, len(v))
	}
	return v[0], nil
}

// mvTranspose transposes v by perm, or returns v when perm is the
// identity.
func mvTranspose(c *Ctx, v Value, perm []int64) Value {
	for i, p := range perm {
		if int64(i) != p {
			return c.Node("Transpose", []Value{v}, onnxmodel.AttrInts("perm", perm...))
		}
	}
	return v
}

// mvInverse is the inverse permutation of perm.
func mvInverse(perm []int64) []int64 {
	inv := make([]int64, len(perm))
	for i, p := range perm {
		inv[p] = int64(i)
	}
	return inv
}

// mvSeq is the integers [from, to).
func mvSeq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// mvStaticLen is the length of 1-D input i: from its constant when it is
// one, else from its declared static shape.
func mvStaticLen(c *Ctx, i int) (int, bool) {
	if c.Const(i) != nil {
		if v, err := c.ConstInts(i); err == nil {
			return len(v), true
		}
	}
	s, ok := c.InShape(i)
	if !ok || len(s) > 1 {
		return 0, false
	}
	if len(s) == 0 {
		return 1, true
	}
	if !s[0].Static() {
		return 0, false
	}
	return int(s[0].Size()), true
}
