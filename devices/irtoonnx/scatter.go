package irtoonnx

// Scatters: ScatterNDUpdate is ONNX ScatterND; ScatterUpdate (whole slices
// along an axis) becomes ScatterND on data transposed so that the axis
// comes first.

func init() {
	register("ScatterNDUpdate", opsets(3), "ScatterND", "duplicate indices: the spec leaves the result undefined", func(c *Ctx) error {
		c.Set(0, c.Node("ScatterND", []Value{c.In(0), mvI64(c, 1), c.In(2)}))
		return nil
	})
	register("ScatterUpdate", opsets(3), "Transpose, ScatterND, Transpose", "axis must be a constant; negative indices count from the end; needs the ranks of data and indices", scatterUpdate)
}

func scatterUpdate(c *Ctx) error {
	axis, err := mvScalarInput(c, 3, "axis")
	if err != nil {
		return err
	}
	dr, err := c.InRank(0)
	if err != nil {
		return err
	}
	ir, err := c.InRank(1)
	if err != nil {
		return err
	}
	if axis, err = mvNormAxis(axis, dr); err != nil {
		return err
	}
	k := int64(ir)
	idx := mvI64(c, 1)
	dim := mvDim(c, c.In(0), axis)
	idx = c.Node("Where", []Value{c.Node("Less", []Value{idx, c.Int(0)}), c.Node("Add", []Value{idx, dim}), idx})
	idx = c.Node("Unsqueeze", []Value{idx, c.Ints(-1)})
	// data with axis first: [data[axis], data[:axis], data[axis+1:]]
	perm := append([]int64{axis}, mvSeq(0, axis)...)
	perm = append(perm, mvSeq(axis+1, int64(dr))...)
	data := mvTranspose(c, c.In(0), perm)
	// updates [data[:axis], idx, data[axis+1:]] -> [idx, data[:axis], data[axis+1:]]
	uperm := append(mvSeq(axis, axis+k), mvSeq(0, axis)...)
	uperm = append(uperm, mvSeq(axis+k, int64(dr)-1+k)...)
	upd := mvTranspose(c, c.In(2), uperm)
	out := c.Node("ScatterND", []Value{data, idx, upd})
	c.Set(0, mvTranspose(c, out, mvInverse(perm)))
	return nil
}
