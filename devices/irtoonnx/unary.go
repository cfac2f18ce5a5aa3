package irtoonnx

// Elementwise unary arithmetic: Abs, Negative, Sign, Floor, Ceiling, Round,
// Exp, Log, Sqrt, Erf, Tanh, Sigmoid and Relu, each the ONNX operator of
// the same meaning (Round half_away_from_zero and integer inputs of the
// rounding ops become small subgraphs).

func init() {
	// Ops ONNX defines for every numeric type.
	for ir, onnx := range map[string]string{"Abs": "Abs", "Negative": "Neg", "Sign": "Sign"} {
		note := ""
		if ir == "Negative" {
			note = "signed and floating-point inputs"
		}
		register(ir, opsets(1), onnx, note, unaryOp(onnx, false))
	}
	// Ops ONNX defines for floating-point types only (so does the IR spec).
	for ir, onnx := range map[string]string{"Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Erf": "Erf", "Tanh": "Tanh", "Sigmoid": "Sigmoid"} {
		register(ir, opsets(1), onnx, "floating-point inputs; integer inputs are not translated", unaryOp(onnx, true))
	}
	for ir, onnx := range map[string]string{"Floor": "Floor", "Ceiling": "Ceil"} {
		register(ir, opsets(1), onnx, "identity on integer inputs", unaryRounding(onnx))
	}
	register("Round", opsets(5), "Round (half_to_even); Sign, Abs, Add, Floor, Mul (half_away_from_zero)",
		"identity on integer inputs", func(c *Ctx) error {
			x := c.In(0)
			if !isFloat(c.InType(0)) {
				c.Set(0, c.Node("Identity", []Value{x}))
				return nil
			}
			switch mode := c.AttrString("mode", "half_to_even"); mode {
			case "half_to_even":
				c.Set(0, c.Node("Round", []Value{x}))
			case "half_away_from_zero": // sign(x) * floor(|x| + 0.5)
				t := c.InType(0)
				f := c.Node("Floor", []Value{c.Node("Add", []Value{c.Node("Abs", []Value{x}), c.Scalar(t, 0.5)})})
				c.Set(0, c.Node("Mul", []Value{c.Node("Sign", []Value{x}), f}))
			default:
				return Unsupported("mode=%q", mode)
			}
			return nil
		})
	register("Relu", opsets(1), "Relu (Max with 0 for integers)", "", func(c *Ctx) error {
		t := c.InType(0)
		if isFloat(t) {
			c.Set(0, c.Node("Relu", []Value{c.In(0)}))
			return nil
		}
		if !isInt(t) {
			return Unsupported("input type %s", t)
		}
		c.Set(0, c.Node("Max", []Value{c.In(0), c.Scalar(t, 0)}))
		return nil
	})
}

// unaryOp translates a one-input op to the ONNX op of the same meaning;
// floatOnly refuses non-floating-point inputs.
func unaryOp(onnx string, floatOnly bool) Translator {
	return func(c *Ctx) error {
		t := c.InType(0)
		if floatOnly && !isFloat(t) {
			return Unsupported("input type %s", t)
		}
		if (!isFloat(t) && !isInt(t)) || (onnx == "Neg" && isUnsigned(t)) {
			return Unsupported("input type %s", t)
		}
		c.Set(0, c.Node(onnx, []Value{c.In(0)}))
		return nil
	}
}

// unaryRounding translates Floor and Ceiling: integers are already whole.
func unaryRounding(onnx string) Translator {
	return func(c *Ctx) error {
		if t := c.InType(0); !isFloat(t) {
			if !isInt(t) {
				return Unsupported("input type %s", t)
			}
			c.Set(0, c.Node("Identity", []Value{c.In(0)}))
			return nil
		}
		c.Set(0, c.Node(onnx, []Value{c.In(0)}))
		return nil
	}
}
