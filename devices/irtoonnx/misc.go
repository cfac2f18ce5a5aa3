package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// NonZero, Range and ReverseSequence.

func init() {
	register("NonZero", opsets(3), "NonZero, Cast", "output_type i32 or i64", func(c *Ctx) error {
		t := irmodel.ElementType(c.AttrString("output_type", "i64"))
		if t != irmodel.I64 && t != irmodel.I32 {
			return Unsupported("output_type=%q", t)
		}
		c.Set(0, mvTo(c, c.Node("NonZero", []Value{c.In(0)}), irmodel.I64, t))
		return nil
	})
	register("Range", opsets(1, 4), "Range, Cast, Mul, Add",
		"the length is max(ceil((stop-start)/step), 0) computed in f64; values are start + i*step, in f64 for float outputs and, for integer outputs, with start and step first cast toward zero",
		miscRange)
	register("ReverseSequence", opsets(1), "ReverseSequence (Transpose around it for axes other than 0 and 1)", "needs the input rank for other axes", miscReverseSequence)
}

func miscRange(c *Ctx) error {
	t := c.InType(0)
	if c.L.Version == "opset4" {
		t = irmodel.ElementType(c.AttrString("output_type", ""))
	}
	if t.ONNX().Size() == 0 || t == irmodel.Boolean || t == irmodel.String {
		return Unsupported("output_type=%q", t)
	}
	f := func(i int) Value { return mvTo(c, c.In(i), c.InType(i), irmodel.F64) }
	start, stop, step := f(0), f(1), f(2)
	n := c.Node("Ceil", []Value{c.Node("Div", []Value{c.Node("Sub", []Value{stop, start}), step})})
	n = c.Node("Max", []Value{n, c.Scalar(irmodel.F64, 0)})
	n = c.Node("Reshape", []Value{c.Cast(n, irmodel.I64), c.Ints()}) // a scalar, whatever rank the inputs had
	i := c.Node("Range", []Value{c.Int(0), n, c.Int(1)})
	acc := irmodel.F64
	if !isFloat(t) {
		acc = irmodel.I64
		start = mvTo(c, c.In(0), c.InType(0), irmodel.I64)
		step = mvTo(c, c.In(2), c.InType(2), irmodel.I64)
	}
	vals := c.Node("Add", []Value{start, c.Node("Mul", []Value{mvTo(c, i, irmodel.I64, acc), step})})
	c.Set(0, mvTo(c, vals, acc, t))
	return nil
}

func miscReverseSequence(c *Ctx) error {
	b, err := c.AttrInt("batch_axis", 0)
	if err != nil {
		return err
	}
	s, err := c.AttrInt("seq_axis", 1)
	if err != nil {
		return err
	}
	lens := mvI64(c, 1)
	if (b == 0 && s == 1) || (b == 1 && s == 0) {
		c.Set(0, c.Node("ReverseSequence", []Value{c.In(0), lens}, onnxmodel.AttrInt("batch_axis", b), onnxmodel.AttrInt("time_axis", s)))
		return nil
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	if b, err = mvNormAxis(b, r); err != nil {
		return err
	}
	if s, err = mvNormAxis(s, r); err != nil {
		return err
	}
	if b == s {
		return Unsupported("batch_axis and seq_axis are both %d", b)
	}
	perm := []int64{b, s}
	for i := range int64(r) {
		if i != b && i != s {
			perm = append(perm, i)
		}
	}
	v := mvTranspose(c, c.In(0), perm)
	v = c.Node("ReverseSequence", []Value{v, lens}, onnxmodel.AttrInt("batch_axis", 0), onnxmodel.AttrInt("time_axis", 1))
	c.Set(0, mvTranspose(c, v, mvInverse(perm)))
	return nil
}
