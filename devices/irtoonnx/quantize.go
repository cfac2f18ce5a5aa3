package irtoonnx

// FakeQuantize as the exact arithmetic of its OpenVINO specification, so
// that INT8 models from post-training quantization compute what OpenVINO's
// reference does:
//
//	x <= min(input_low, input_high): output_low
//	x >  max(input_low, input_high): output_high
//	otherwise: round((x - input_low) / (input_high - input_low) * (levels-1))
//	           / (levels-1) * (output_high - output_low) + output_low
//
// with round to nearest, ties to even (ONNX Round), each step one ONNX
// node in the input's type, the limits broadcast with NumPy rules.

func init() {
	register("FakeQuantize", opsets(1), "Min, Max, Sub, Div, Mul, Round, Add, LessOrEqual, Greater, Where",
		"the spec's formula step by step; auto_broadcast numpy or none", quantFakeQuantize)
}

// quantFakeQuantize builds the FakeQuantize subgraph.
func quantFakeQuantize(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	if err := checkBroadcast(c); err != nil {
		return err
	}
	levels, err := c.AttrInt("levels", 0)
	if err != nil {
		return err
	}
	if levels < 2 {
		return Unsupported("levels=%d", levels)
	}
	t := c.InType(0)
	x, il, ih, ol, oh := c.In(0), c.In(1), c.In(2), c.In(3), c.In(4)
	for i := 1; i <= 4; i++ { // limits of another float type are cast to x's
		if c.InType(i) != t {
			v := c.Cast(c.In(i), t)
			switch i {
			case 1:
				il = v
			case 2:
				ih = v
			case 3:
				ol = v
			case 4:
				oh = v
			}
		}
	}
	n := c.Scalar(t, float64(levels-1))
	q := c.Node("Div", []Value{c.Node("Sub", []Value{x, il}), c.Node("Sub", []Value{ih, il})})
	q = c.Node("Round", []Value{c.Node("Mul", []Value{q, n})})
	q = c.Node("Mul", []Value{c.Node("Div", []Value{q, n}), c.Node("Sub", []Value{oh, ol})})
	q = c.Node("Add", []Value{q, ol})
	low := c.Node("LessOrEqual", []Value{x, c.Node("Min", []Value{il, ih})})
	high := c.Node("Greater", []Value{x, c.Node("Max", []Value{il, ih})})
	c.Set(0, c.Node("Where", []Value{low, ol, c.Node("Where", []Value{high, oh, q})}))
	return nil
}
