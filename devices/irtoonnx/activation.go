package irtoonnx

import (
	"encoding/binary"
	"math"
	"strings"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Activation functions: PRelu, Clamp, Elu, Selu, HSwish, HSigmoid, Swish,
// Mish, Gelu, SoftPlus, SoftMax and LogSoftmax. Each follows the formula of
// its OpenVINO specification; those ONNX has with the same definition map
// to it, the others become small subgraphs.

func init() {
	register("PRelu", opsets(1), "PRelu (slope reshaped to [C,1,...] for per-channel slopes)",
		"a 1-D slope as long as data's dimension 1 applies per channel, else NumPy broadcasting", actPRelu)
	register("Clamp", opsets(1), "Clip", "integer inputs: min rounded up, max rounded down, both kept in the type's range", actClamp)
	register("Elu", opsets(1), "Elu", "", func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		alpha, err := c.AttrFloat("alpha", 1)
		if err != nil {
			return err
		}
		c.Set(0, c.Node("Elu", []Value{c.In(0)}, onnxmodel.AttrFloat("alpha", float32(alpha))))
		return nil
	})
	register("Selu", opsets(1), "Selu (constant alpha and lambda), else Exp, Sub, Mul, Where", "", actSelu)
	register("HSwish", opsets(4), "HardSwish", "", func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		c.Set(0, c.Node("HardSwish", []Value{c.In(0)}))
		return nil
	})
	register("HSigmoid", opsets(5), "HardSigmoid (alpha 1/6, beta 0.5)", "min(max(x + 3, 0), 6) / 6", func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		c.Set(0, c.Node("HardSigmoid", []Value{c.In(0)}, onnxmodel.AttrFloat("alpha", 1.0/6), onnxmodel.AttrFloat("beta", 0.5)))
		return nil
	})
	register("Swish", opsets(4), "Sigmoid, Mul", "x * sigmoid(beta * x); beta from the optional second input, else 1", func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		x := c.In(0)
		arg := x
		if c.NumInputs() > 1 {
			arg = c.Node("Mul", []Value{x, c.In(1)})
		}
		c.Set(0, c.Node("Mul", []Value{x, c.Node("Sigmoid", []Value{arg})}))
		return nil
	})
	register("Mish", opsets(4), "Softplus, Tanh, Mul", "x * tanh(softplus(x))", func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		x := c.In(0)
		c.Set(0, c.Node("Mul", []Value{x, c.Node("Tanh", []Value{c.Node("Softplus", []Value{x})})}))
		return nil
	})
	register("Gelu", opsets(2), "Div, Erf, Add, Mul", "erf form: 0.5 * x * (1 + erf(x / sqrt(2)))", func(c *Ctx) error {
		return actGelu(c, "erf")
	})
	register("Gelu", opsets(7), "Div, Erf, Add, Mul (erf); Pow, Mul, Add, Tanh (tanh)",
		"approximation_mode erf or tanh: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))", func(c *Ctx) error {
			return actGelu(c, strings.ToLower(c.AttrString("approximation_mode", "erf")))
		})
	register("SoftPlus", opsets(4), "Softplus", "ln(1 + e^x); ONNX Runtime's form is stable for large x as the spec's threshold is", func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		c.Set(0, c.Node("Softplus", []Value{c.In(0)}))
		return nil
	})
	// OpenVINO writes the type as "Softmax" (the spec's title says SoftMax);
	// both spellings are read.
	for _, typ := range []string{"Softmax", "SoftMax"} {
		register(typ, opsets(1), "Softmax", "axis (default 1)", actAxisOp("Softmax"))
		register(typ, opsets(8), "Softmax", "axis (default 1) may be negative", actAxisOp("Softmax"))
	}
	register("LogSoftmax", opsets(5), "LogSoftmax", "axis (default 1) may be negative", actAxisOp("LogSoftmax"))
}

// actAxisOp translates SoftMax and LogSoftmax: ONNX (opset 13 on) computes
// along one axis as OpenVINO does.
func actAxisOp(onnx string) Translator {
	return func(c *Ctx) error {
		if err := floatInput(c); err != nil {
			return err
		}
		axis, err := c.AttrInt("axis", 1)
		if err != nil {
			return err
		}
		c.Set(0, c.Node(onnx, []Value{c.In(0)}, onnxmodel.AttrInt("axis", axis)))
		return nil
	}
}

// actPRelu applies the slope per channel when it is 1-D and as long as
// data's dimension 1 (or that dimension is dynamic and data has rank 3 or
// more), else with NumPy broadcasting, as the PRelu-1 spec says.
func actPRelu(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	x, slope := c.In(0), c.In(1)
	ds, dok := c.InShape(0)
	ss, sok := c.InShape(1)
	if !dok || !sok {
		return Unsupported("PRelu with a dynamic rank")
	}
	if len(ss) == 1 && len(ds) >= 3 {
		ch, n := ds[1], ss[0]
		perChannel := (ch.Static() && n.Static() && ch.Min == n.Min && n.Min != 1) || (!ch.Static() && !(n.Static() && n.Min == 1))
		if perChannel {
			shape := []int64{-1}
			for i := 2; i < len(ds); i++ {
				shape = append(shape, 1)
			}
			slope = c.Node("Reshape", []Value{slope, c.Ints(shape...)})
		}
	}
	c.Set(0, c.Node("PRelu", []Value{x, slope}))
	return nil
}

// actClamp is min(max(x, min), max). For integer types min is rounded up
// and max down (the spec's note), and both are kept inside the type's
// range so that the bound itself is representable.
func actClamp(c *Ctx) error {
	t := c.InType(0)
	if !isFloat(t) && !isInt(t) {
		return Unsupported("input type %s", t)
	}
	lo, err := c.AttrFloat("min", math.Inf(-1))
	if err != nil {
		return err
	}
	hi, err := c.AttrFloat("max", math.Inf(1))
	if err != nil {
		return err
	}
	if isInt(t) {
		lo, hi = math.Ceil(lo), math.Floor(hi)
		if tmin, tmax, ok := actIntRange(t); ok {
			lo = min(max(lo, tmin), tmax)
			hi = min(max(hi, tmin), tmax)
		}
		if t == irmodel.I64 || t == irmodel.U64 {
			c.Set(0, c.Node("Clip", []Value{c.In(0), actBound64(c, t, lo), actBound64(c, t, hi)}))
			return nil
		}
	}
	c.Set(0, c.Node("Clip", []Value{c.In(0), c.Scalar(t, lo), c.Scalar(t, hi)}))
	return nil
}

// actBound64 is a whole-number bound as an i64 or u64 scalar, saturated at
// the type's range: a float64 at or past 2^63 (±FLT_MAX, ±Inf) has no
// int64 conversion Go defines.
func actBound64(c *Ctx, t irmodel.ElementType, v float64) Value {
	var bits uint64
	switch {
	case t == irmodel.U64 && v <= 0:
		bits = 0
	case t == irmodel.U64 && v >= 1<<64:
		bits = math.MaxUint64
	case t == irmodel.U64:
		bits = uint64(v)
	case v <= math.MinInt64:
		bits = 1 << 63
	case v >= 1<<63:
		bits = math.MaxInt64
	default:
		bits = uint64(int64(v))
	}
	return c.Tensor(onnxmodel.RawTensor("", t.ONNX(), nil, binary.LittleEndian.AppendUint64(nil, bits)))
}

// actIntRange is the value range of integer type t up to 32 bits (64-bit
// bounds do not fit a float64 exactly; ok is false for them).
func actIntRange(t irmodel.ElementType) (lo, hi float64, ok bool) {
	switch t {
	case irmodel.I8:
		return math.MinInt8, math.MaxInt8, true
	case irmodel.U8:
		return 0, math.MaxUint8, true
	case irmodel.I16:
		return math.MinInt16, math.MaxInt16, true
	case irmodel.U16:
		return 0, math.MaxUint16, true
	case irmodel.I32:
		return math.MinInt32, math.MaxInt32, true
	case irmodel.U32:
		return 0, math.MaxUint32, true
	case irmodel.I4:
		return -8, 7, true
	case irmodel.U4:
		return 0, 15, true
	}
	return 0, 0, false
}

// actSelu is lambda * x for x > 0, lambda * alpha * (e^x - 1) otherwise,
// with alpha and lambda from inputs 2 and 3: ONNX Selu when both are
// constants, else the formula.
func actSelu(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	x := c.In(0)
	alpha, aerr := c.ConstFloats(1)
	lambda, lerr := c.ConstFloats(2)
	if aerr == nil && lerr == nil && len(alpha) == 1 && len(lambda) == 1 {
		c.Set(0, c.Node("Selu", []Value{x}, onnxmodel.AttrFloat("alpha", float32(alpha[0])), onnxmodel.AttrFloat("gamma", float32(lambda[0]))))
		return nil
	}
	t := c.InType(0)
	neg := c.Node("Mul", []Value{c.In(1), c.Node("Sub", []Value{c.Node("Exp", []Value{x}), c.Scalar(t, 1)})})
	sel := c.Node("Where", []Value{c.Node("Greater", []Value{x, c.Scalar(t, 0)}), x, neg})
	c.Set(0, c.Node("Mul", []Value{c.In(2), sel}))
	return nil
}

// actGelu builds x * 0.5 * (1 + erf(x / sqrt 2)) or the tanh
// approximation 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
// The subgraph is valid in every opset ovms writes (ONNX Gelu needs 20).
func actGelu(c *Ctx, mode string) error {
	if err := floatInput(c); err != nil {
		return err
	}
	t, x := c.InType(0), c.In(0)
	var inner Value
	switch mode {
	case "erf":
		inner = c.Node("Erf", []Value{c.Node("Div", []Value{x, c.Scalar(t, math.Sqrt2)})})
	case "tanh":
		cube := c.Node("Mul", []Value{c.Node("Mul", []Value{x, x}), x})
		arg := c.Node("Add", []Value{x, c.Node("Mul", []Value{c.Scalar(t, 0.044715), cube})})
		inner = c.Node("Tanh", []Value{c.Node("Mul", []Value{c.Scalar(t, math.Sqrt(2/math.Pi)), arg})})
	default:
		return Unsupported("approximation_mode=%q", mode)
	}
	half := c.Node("Mul", []Value{x, c.Scalar(t, 0.5)})
	c.Set(0, c.Node("Mul", []Value{half, c.Node("Add", []Value{inner, c.Scalar(t, 1)})}))
	return nil
}
