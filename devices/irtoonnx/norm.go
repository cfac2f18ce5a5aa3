package irtoonnx

import (
	"math"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Normalizations: MVN (v1, v6), NormalizeL2, BatchNormInference (v1, v5)
// and LRN, as subgraphs of ONNX reductions and arithmetic that follow the
// formulas of their OpenVINO specifications (BatchNormInference becomes
// ONNX BatchNormalization, LRN over channels ONNX LRN).

func init() {
	register("MVN", opsets(1), "ReduceMean, Sub, Mul, Add, Sqrt, Div",
		"across_channels or reduction_axes; (x - mean) / sqrt(variance + eps)", normMVN1)
	register("MVN", opsets(6), "ReduceMean, Sub, Mul, Add, Sqrt, Div",
		"axes input (constant or computed); eps_mode inside_sqrt or outside_sqrt", normMVN6)
	register("NormalizeL2", opsets(1), "ReduceSumSquare, Max or Add, Sqrt, Div", "eps_mode add or max; empty axes divide each element by its own norm", normL2)
	register("BatchNormInference", opsets(1), "BatchNormalization",
		"inputs gamma, beta, data, mean, variance as opset1 IR writes them (data first, as its spec lists, is recognised by rank)", func(c *Ctx) error {
			data, gamma, beta := 2, 0, 1
			if s, ok := c.InShape(0); ok && len(s) >= 2 {
				if s2, ok := c.InShape(2); ok && len(s2) == 1 {
					data, gamma, beta = 0, 1, 2
				}
			}
			return normBatch(c, data, gamma, beta)
		})
	register("BatchNormInference", opsets(5), "BatchNormalization", "inputs data, gamma, beta, mean, variance", func(c *Ctx) error {
		return normBatch(c, 0, 1, 2)
	})
	register("LRN", opsets(1), "LRN (axes [1]); Mul, Unsqueeze, AveragePool, Squeeze, Pow, Div (other axes)",
		"the window spans size/2 on each side, as the spec says, also for even sizes; axes may not include 0; at most 3 axes after it", normLRN)
}

// normMVN1 reads MVN-1's axes from reduction_axes, else from
// across_channels (1..r-1 when true, 2..r-1 when false).
func normMVN1(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	eps, err := c.AttrFloat("eps", 0)
	if err != nil {
		return err
	}
	nv, err := c.AttrBool("normalize_variance", false)
	if err != nil {
		return err
	}
	var axes []int64
	if _, ok := c.Attr("reduction_axes"); ok {
		if axes, err = c.AttrInts("reduction_axes", nil); err != nil {
			return err
		}
	} else {
		across, err := c.AttrBool("across_channels", false)
		if err != nil {
			return err
		}
		r, err := c.InRank(0)
		if err != nil {
			return err
		}
		first := 2
		if across {
			first = 1
		}
		for a := first; a < r; a++ {
			axes = append(axes, int64(a))
		}
	}
	c.Set(0, normMVN(c, c.Ints(axes...), nv, eps, true))
	return nil
}

// normMVN6 takes its axes from input 2 and eps_mode from its attribute.
func normMVN6(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	eps, err := c.AttrFloat("eps", 0)
	if err != nil {
		return err
	}
	nv, err := c.AttrBool("normalize_variance", true)
	if err != nil {
		return err
	}
	inside := true
	switch m := c.AttrString("eps_mode", "inside_sqrt"); m {
	case "inside_sqrt", "INSIDE_SQRT":
	case "outside_sqrt", "OUTSIDE_SQRT":
		inside = false
	default:
		return Unsupported("eps_mode=%q", m)
	}
	c.Set(0, normMVN(c, axesInput(c, 1), nv, eps, inside))
	return nil
}

// normMVN is x - mean(x), divided by sqrt(var + eps) (inside) or
// sqrt(var) + eps when normalizeVariance, where var is the mean of the
// squared deviations over axes.
func normMVN(c *Ctx, axes Value, normalizeVariance bool, eps float64, inside bool) Value {
	t, x := c.InType(0), c.In(0)
	keep := []*onnxpb.AttributeProto{onnxmodel.AttrInt("keepdims", 1), onnxmodel.AttrInt("noop_with_empty_axes", 1)}
	d := c.Node("Sub", []Value{x, c.Node("ReduceMean", []Value{x, axes}, keep...)})
	if !normalizeVariance {
		return d
	}
	v := c.Node("ReduceMean", []Value{c.Node("Mul", []Value{d, d}), axes}, keep...)
	var den Value
	if inside {
		den = c.Node("Sqrt", []Value{c.Node("Add", []Value{v, c.Scalar(t, eps)})})
	} else {
		den = c.Node("Add", []Value{c.Node("Sqrt", []Value{v}), c.Scalar(t, eps)})
	}
	return c.Node("Div", []Value{d, den})
}

// normL2 is x / sqrt(max(sum x^2, eps)) or x / sqrt(sum x^2 + eps), the
// sum over the axes of input 2.
func normL2(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	eps, err := c.AttrFloat("eps", 0)
	if err != nil {
		return err
	}
	t, x := c.InType(0), c.In(0)
	ss := c.Node("ReduceSumSquare", []Value{x, axesInput(c, 1)}, onnxmodel.AttrInt("keepdims", 1), onnxmodel.AttrInt("noop_with_empty_axes", 1))
	switch m := c.AttrString("eps_mode", "add"); m {
	case "add", "ADD":
		ss = c.Node("Add", []Value{ss, c.Scalar(t, eps)})
	case "max", "MAX":
		ss = c.Node("Max", []Value{ss, c.Scalar(t, eps)})
	default:
		return Unsupported("eps_mode=%q", m)
	}
	c.Set(0, c.Node("Div", []Value{x, c.Node("Sqrt", []Value{ss})}))
	return nil
}

// normBatch is ONNX BatchNormalization in inference mode: (x - mean) /
// sqrt(variance + epsilon) * gamma + beta per channel (dimension 1).
func normBatch(c *Ctx, data, gamma, beta int) error {
	if t := c.InType(data); !isFloat(t) {
		return Unsupported("input type %s", t)
	}
	eps, err := c.AttrFloat("epsilon", 0)
	if err != nil {
		return err
	}
	c.Set(0, c.Node("BatchNormalization", []Value{c.In(data), c.In(gamma), c.In(beta), c.In(3), c.In(4)},
		onnxmodel.AttrFloat("epsilon", float32(eps))))
	return nil
}

// normLRN divides x by (bias + alpha / size^len(axes) * sqr_sum)^beta,
// sqr_sum the sum of squares over a window from i - size/2 to i + size/2
// (integer division, zero padding) along each axis. Axes [1] use ONNX LRN
// with an odd window of that span (alpha scaled to keep the spec's
// divisor); other axes sum with an AveragePool that counts the padding.
func normLRN(c *Ctx) error {
	if err := floatInput(c); err != nil {
		return err
	}
	alpha, err := c.AttrFloat("alpha", 1e-4)
	if err != nil {
		return err
	}
	beta, err := c.AttrFloat("beta", 0.75)
	if err != nil {
		return err
	}
	bias, err := c.AttrFloat("bias", 1)
	if err != nil {
		return err
	}
	size, err := c.AttrInt("size", 1)
	if err != nil {
		return err
	}
	if size < 1 {
		return Unsupported("size=%d", size)
	}
	axes, err := c.ConstInts(1)
	if err != nil {
		return err
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	in := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a <= 0 || a >= int64(r) || in[a] {
			return Unsupported("axes %v", axes)
		}
		in[a] = true
	}
	span := 2*(size/2) + 1 // the window the spec's slices take
	t, x := c.InType(0), c.In(0)
	if len(in) == 1 && in[1] && r >= 3 {
		// ONNX LRN: x / (bias + alpha/n * sum over n channels)^beta.
		a := alpha * float64(span) / float64(size)
		c.Set(0, c.Node("LRN", []Value{x}, onnxmodel.AttrFloat("alpha", float32(a)), onnxmodel.AttrFloat("beta", float32(beta)),
			onnxmodel.AttrFloat("bias", float32(bias)), onnxmodel.AttrInt("size", span)))
		return nil
	}
	if r-1 > 3 || len(in) == 0 {
		return Unsupported("axes %v on rank %d", axes, r)
	}
	// Pool over dimensions 1..r-1 of x^2 seen as [N, 1, d1, ..., d(r-1)].
	var kernel, pads []int64
	for a := 1; a < r; a++ {
		k := int64(1)
		if in[int64(a)] {
			k = span
		}
		kernel = append(kernel, k)
		pads = append(pads, k/2)
	}
	pads = append(pads, pads...)
	sq := c.Node("Unsqueeze", []Value{c.Node("Mul", []Value{x, x}), c.Ints(1)})
	avg := c.Node("AveragePool", []Value{sq}, onnxmodel.AttrInts("kernel_shape", kernel...), onnxmodel.AttrInts("pads", pads...),
		onnxmodel.AttrInt("count_include_pad", 1))
	sum := c.Node("Squeeze", []Value{avg, c.Ints(1)})
	// sum of squares = average * window volume; the divisor is size^len(axes).
	vol := math.Pow(float64(span), float64(len(in)))
	scale := alpha / math.Pow(float64(size), float64(len(in))) * vol
	den := c.Node("Add", []Value{c.Scalar(t, bias), c.Node("Mul", []Value{sum, c.Scalar(t, scale)})})
	c.Set(0, c.Node("Div", []Value{x, c.Node("Pow", []Value{den, c.Scalar(t, beta)})}))
	return nil
}
