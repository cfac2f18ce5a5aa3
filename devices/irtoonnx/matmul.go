package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// MatMul-1 as ONNX MatMul. transpose_a/transpose_b swap the last two axes of
// an operand of rank 2 or more (a Transpose node); a 1-D operand is never
// transposed and is treated as the spec says (a row for A, a column for B,
// the added axis removed), which is what ONNX MatMul does. Batch axes
// broadcast NumPy-style in both. Two f32 matrices are a Gemm instead, its
// transA/transB doing the transposes: a fully connected layer (transpose_b,
// weights [N,K]) then needs no Transpose of its weights, which ONNX Runtime
// would fold into a new constant at every load, and fuseBiases gives the
// Gemm the bias of the Add after it.

func init() {
	register("MatMul", opsets(1), "MatMul (Transpose for transpose_a/transpose_b); Gemm for two f32 matrices",
		"1-D operands are not transposed, as the spec says", func(c *Ctx) error {
			if v, ok, err := matmulAsGemm(c); err != nil || ok {
				if ok {
					c.Set(0, v)
				}
				return err
			}
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

// matmulAsGemm translates a MatMul of two f32 matrices (both inputs of
// rank 2) as Gemm with transA/transB; ok is false for any other MatMul.
func matmulAsGemm(c *Ctx) (v Value, ok bool, err error) {
	if c.InType(0) != irmodel.F32 || c.InType(1) != irmodel.F32 {
		return Value{}, false, nil
	}
	for i := range 2 {
		if s, known := c.InShape(i); !known || len(s) != 2 {
			return Value{}, false, nil
		}
	}
	ta, err := c.AttrBool("transpose_a", false)
	if err != nil {
		return Value{}, false, err
	}
	tb, err := c.AttrBool("transpose_b", false)
	if err != nil {
		return Value{}, false, err
	}
	var attrs []*onnxpb.AttributeProto
	if ta {
		attrs = append(attrs, onnxmodel.AttrInt("transA", 1))
	}
	if tb {
		attrs = append(attrs, onnxmodel.AttrInt("transB", 1))
	}
	return c.Node("Gemm", []Value{c.In(0), c.In(1)}, attrs...), true, nil
}
