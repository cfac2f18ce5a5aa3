package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Data movement between channels and space: DepthToSpace-1, SpaceToDepth-1
// (modes blocks_first and depth_first, any spatial rank) and
// ShuffleChannels-1, as ONNX DepthToSpace where it matches or as
// Reshape-Transpose-Reshape.

func init() {
	register("DepthToSpace", opsets(1), "DepthToSpace (4-D), else Reshape, Transpose, Reshape",
		"ranks other than 4, and types other than f32/f16/f64/u8/i8, need static channel and spatial dims", func(c *Ctx) error { return spaceDepth(c, true) })
	register("SpaceToDepth", opsets(1), "SpaceToDepth (4-D blocks_first), else Reshape, Transpose, Reshape",
		"other cases need static channel and spatial dims", func(c *Ctx) error { return spaceDepth(c, false) })
	register("ShuffleChannels", opsets(1), "Reshape, Transpose, Reshape", "", shuffleChannels)
}

// spaceDepth translates DepthToSpace (toSpace) and SpaceToDepth.
func spaceDepth(c *Ctx, toSpace bool) error {
	bs, err := c.AttrInt("block_size", 1)
	if err != nil {
		return err
	}
	mode := c.AttrString("mode", "blocks_first")
	if mode != "blocks_first" && mode != "depth_first" {
		return Unsupported("mode=%q", mode)
	}
	if bs < 1 {
		return Unsupported("block_size=%d", bs)
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	if r < 3 {
		return Unsupported("input of rank %d", r)
	}
	k := r - 2
	// ONNX Runtime's DepthToSpace and SpaceToDepth kernels take these
	// types only; others (i32, i64, boolean) take the general form.
	kernel := false
	switch c.InType(0) {
	case irmodel.F32, irmodel.F16, irmodel.F64, irmodel.U8, irmodel.I8:
		kernel = true
	}
	if r == 4 && kernel {
		if toSpace {
			m := "DCR"
			if mode == "depth_first" {
				m = "CRD"
			}
			c.Set(0, c.Node("DepthToSpace", []Value{c.In(0)}, onnxmodel.AttrInt("blocksize", bs), onnxmodel.AttrString("mode", m)))
			return nil
		}
		if mode == "blocks_first" {
			c.Set(0, c.Node("SpaceToDepth", []Value{c.In(0)}, onnxmodel.AttrInt("blocksize", bs)))
			return nil
		}
	}
	in, _ := c.InShape(0)
	if !in[1:].Static() {
		return Unsupported("dynamic channel or spatial dims for rank %d %s", r, mode)
	}
	d := in.Sizes()
	bk := int64(1)
	for range k {
		bk *= bs
	}
	var first, final []int64
	var perm []int64
	if toSpace {
		cOut := d[1] / bk
		// first: [N, bs..bs, C', D...] (blocks_first) or [N, C', bs..bs, D...].
		first = []int64{0}
		blocks := make([]int64, k)
		for i := range blocks {
			blocks[i] = bs
		}
		if mode == "blocks_first" {
			first = append(append(first, blocks...), cOut)
		} else {
			first = append(append(first, cOut), blocks...)
		}
		first = append(first, d[2:]...)
		cPos, bPos := int64(k+1), int64(1)
		if mode == "depth_first" {
			cPos, bPos = 1, 2
		}
		perm = []int64{0, cPos}
		final = []int64{0, cOut}
		for i := range k {
			perm = append(perm, int64(k+2+i), bPos+int64(i))
			final = append(final, d[2+i]*bs)
		}
	} else {
		// first: [N, C, D1/bs, bs, D2/bs, bs, ...].
		first = []int64{0, d[1]}
		final = []int64{0, d[1] * bk}
		for i := range k {
			first = append(first, d[2+i]/bs, bs)
			final = append(final, d[2+i]/bs)
		}
		blocksPerm := make([]int64, k)
		for i := range k {
			blocksPerm[i] = int64(3 + 2*i)
		}
		perm = []int64{0}
		if mode == "blocks_first" {
			perm = append(append(perm, blocksPerm...), 1)
		} else {
			perm = append(append(perm, 1), blocksPerm...)
		}
		for i := range k {
			perm = append(perm, int64(2+2*i))
		}
	}
	y := c.Node("Reshape", []Value{c.In(0), c.Ints(first...)})
	y = c.Node("Transpose", []Value{y}, onnxmodel.AttrInts("perm", perm...))
	c.Set(0, c.Node("Reshape", []Value{y, c.Ints(final...)}))
	return nil
}

// shuffleChannels splits axis into [group, C/group], swaps the two and
// merges them back.
func shuffleChannels(c *Ctx) error {
	axis, err := c.AttrInt("axis", 1)
	if err != nil {
		return err
	}
	group, err := c.AttrInt("group", 1)
	if err != nil {
		return err
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	if axis < -int64(r) || axis >= int64(r) || group < 1 {
		return Unsupported("axis=%d group=%d for rank %d", axis, group, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	shape := c.Node("Shape", []Value{c.In(0)})
	parts := []Value{}
	if axis > 0 {
		parts = append(parts, c.Node("Slice", []Value{shape, c.Ints(0), c.Ints(axis)}))
	}
	parts = append(parts, c.Ints(group, -1))
	if axis+1 < int64(r) {
		parts = append(parts, c.Node("Slice", []Value{shape, c.Ints(axis + 1), c.Ints(int64(r))}))
	}
	split := c.Node("Concat", parts, onnxmodel.AttrInt("axis", 0))
	perm := make([]int64, r+1)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[axis], perm[axis+1] = perm[axis+1], perm[axis]
	y := c.Node("Transpose", []Value{c.Node("Reshape", []Value{c.In(0), split})}, onnxmodel.AttrInts("perm", perm...))
	c.Set(0, c.Node("Reshape", []Value{y, shape}))
	return nil
}
