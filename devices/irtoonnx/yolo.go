package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// RegionYolo-1 and ReorgYolo-1: the YOLO v2/v3 heads as reshapes,
// activations and a transpose.
//
// RegionYolo sees the channels of [N, C, H, W] as R regions of
// coords + 1 + classes channels each (R = num with do_softmax, else the
// length of mask): the first two coordinates (x, y) and the objectness go
// through a sigmoid, the other coordinates are kept, the class scores get a
// softmax over the classes (do_softmax) or a sigmoid. With do_softmax the
// dims axis..end_axis are then flattened into one.
//
// ReorgYolo is darknet's reorg: the input buffer is read as
// [N, C/s², H*s, W*s] and written in [N, C, H, W] order, which is a
// reshape to [N, C/s², H, s, W, s], the transpose (0, 3, 5, 1, 2, 4) and a
// reshape to [N, C*s², H/s, W/s].

func init() {
	register("RegionYolo", opsets(1), "Reshape, Split, Sigmoid, Softmax, Concat", "", regionYoloOp)
	register("ReorgYolo", opsets(1), "Reshape, Transpose", "the channel count must be static", reorgYoloOp)
}

func regionYoloOp(c *Ctx) error {
	rank, err := c.InRank(0)
	if err != nil {
		return err
	}
	if rank != 4 {
		return Unsupported("input of rank %d (RegionYolo takes [N, C, H, W])", rank)
	}
	coords, err := c.AttrInt("coords", 4)
	if err != nil {
		return err
	}
	classes, err := c.AttrInt("classes", 0)
	if err != nil {
		return err
	}
	num, err := c.AttrInt("num", 0)
	if err != nil {
		return err
	}
	softmax, err := c.AttrBool("do_softmax", true)
	if err != nil {
		return err
	}
	mask, err := c.AttrInts("mask", nil)
	if err != nil {
		return err
	}
	regions := num
	if !softmax {
		regions = int64(len(mask))
	}
	if coords < 2 || classes < 1 || regions < 1 {
		return Unsupported("coords=%d, classes=%d with %d regions", coords, classes, regions)
	}
	k := coords + 1 + classes
	s, _ := c.InShape(0)
	if s[1].Static() && s[1].Size() != regions*k {
		return Unsupported("%d channels for %d regions of %d values", s[1].Size(), regions, k)
	}
	x := c.In(0)
	shape5 := c.Node("Concat", []Value{shapeDims(c, x, 0, 1), c.Ints(regions, k), shapeDims(c, x, 2, 4)}, onnxmodel.AttrInt("axis", 0))
	x5 := c.Node("Reshape", []Value{x, shape5})
	sizes := []int64{2}
	if coords > 2 {
		sizes = append(sizes, coords-2)
	}
	sizes = append(sizes, 1, classes)
	parts := c.MultiNode("Split", len(sizes), []Value{x5, c.Ints(sizes...)}, onnxmodel.AttrInt("axis", 2))
	out := []Value{c.Node("Sigmoid", []Value{parts[0]})}
	if coords > 2 {
		out = append(out, parts[1])
	}
	out = append(out, c.Node("Sigmoid", []Value{parts[len(parts)-2]}))
	cls := parts[len(parts)-1]
	if softmax {
		out = append(out, c.Node("Softmax", []Value{cls}, onnxmodel.AttrInt("axis", 2)))
	} else {
		out = append(out, c.Node("Sigmoid", []Value{cls}))
	}
	y := c.Node("Reshape", []Value{c.Node("Concat", out, onnxmodel.AttrInt("axis", 2)), c.Node("Shape", []Value{x})})
	if softmax {
		axis, err := c.AttrInt("axis", 1)
		if err != nil {
			return err
		}
		end, err := c.AttrInt("end_axis", 3)
		if err != nil {
			return err
		}
		if axis < 0 {
			axis += 4
		}
		if end < 0 {
			end += 4
		}
		if axis < 0 || end > 3 || axis > end {
			return Unsupported("axis=%d, end_axis=%d", axis, end)
		}
		shape := c.Node("Concat", []Value{shapeDims(c, x, 0, axis), c.Ints(-1), shapeDims(c, x, end+1, 4)}, onnxmodel.AttrInt("axis", 0))
		y = c.Node("Reshape", []Value{y, shape})
	}
	c.Set(0, y)
	return nil
}

func reorgYoloOp(c *Ctx) error {
	rank, err := c.InRank(0)
	if err != nil {
		return err
	}
	if rank != 4 {
		return Unsupported("input of rank %d (ReorgYolo takes [N, C, H, W])", rank)
	}
	st, err := c.AttrInt("stride", 0)
	if err != nil {
		return err
	}
	if st < 1 {
		return Unsupported("stride=%d", st)
	}
	s, _ := c.InShape(0)
	if !s[1].Static() {
		return Unsupported("dynamic channel count")
	}
	ch := s[1].Size()
	if ch%(st*st) != 0 {
		return Unsupported("%d channels for stride %d", ch, st)
	}
	x := c.In(0)
	n, h, w := shapeDims(c, x, 0, 1), shapeDims(c, x, 2, 3), shapeDims(c, x, 3, 4)
	six := c.Node("Concat", []Value{n, c.Ints(ch / (st * st)), h, c.Ints(st), w, c.Ints(st)}, onnxmodel.AttrInt("axis", 0))
	t := c.Node("Transpose", []Value{c.Node("Reshape", []Value{x, six})}, onnxmodel.AttrInts("perm", 0, 3, 5, 1, 2, 4))
	stride := c.Ints(st)
	out := c.Node("Concat", []Value{n, c.Ints(ch * st * st), c.Node("Div", []Value{h, stride}), c.Node("Div", []Value{w, stride})}, onnxmodel.AttrInt("axis", 0))
	c.Set(0, c.Node("Reshape", []Value{t, out}))
	return nil
}
