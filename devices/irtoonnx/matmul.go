package irtoonnx

import "github.com/ovmsgo/ovms/devices/onnxmodel"

// MatMul-1 as ONNX MatMul. transpose_a/transpose_b swap the last two axes of
// an operand of rank 2 or more (a Transpose node); a 1-D operand is never
// transposed and is treated as the spec says (a row for A, a column for B,
// the added axis removed), which is what ONNX MatMul does. Batch axes
// broadcast NumPy-style in both.

func init() {
	register("MatMul", opsets(1), "MatMul (Transpose for transpose_a/transpose_b)",
		"1-D operands are not transposed, as the spec says", func(c *Ctx) error {
			a, b := c.In(0), c.In(1)
			for i, name := range []string{"transpose_a", "transpose_b"} {
				t, err := c.AttrBool(name, false)
				if err != nil {
					return err
				}
				if !t {
					continue
				}
				v, err := matmulTranspose(c, i)
				if err != nil {
					return err
				}
				if i == 0 {
					a = v
				} else {
					b = v
				}
			}
			c.Set(0, c.Node("MatMul", []Value{a, b}))
			return nil
		})
}

// matmulTranspose swaps the last two axes of input i; a 1-D input is
// returned as it is.
func matmulTranspose(c *Ctx, i int) (Value, error) {
	r, err := c.InRank(i)
	if err != nil {
		return Value{}, err
	}
	if r < 2 {
		return c.In(i), nil
	}
	perm := make([]int64, r)
	for k := range perm {
		perm[k] = int64(k)
	}
	perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
	return c.Node("Transpose", []Value{c.In(i)}, onnxmodel.AttrInts("perm", perm...)), nil
}
