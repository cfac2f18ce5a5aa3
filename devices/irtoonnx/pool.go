package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Pooling: MaxPool-1 and MaxPool-8 (dilations, the indices output with its
// axis and index_element_type) as ONNX MaxPool, AvgPool-1 as ONNX
// AveragePool, and AdaptiveAvgPool-8 / AdaptiveMaxPool-8 as subgraphs of
// Slice and Reduce nodes, one per output bin, when the spatial sizes are
// static.

func init() {
	register("MaxPool", opsets(1), "MaxPool", "", func(c *Ctx) error { return maxPool(c, false) })
	register("MaxPool", opsets(8), "MaxPool (indices: Mod for axis > 0, Cast for i32)",
		"indices are flat over the input as ONNX counts them, reduced modulo the product of dims from axis on",
		func(c *Ctx) error { return maxPool(c, true) })
	register("AvgPool", opsets(1), "AveragePool", "exclude-pad maps to count_include_pad", func(c *Ctx) error {
		n, err := convSpatial(c)
		if err != nil {
			return err
		}
		attrs, err := poolAttrs(c, n, false)
		if err != nil {
			return err
		}
		ex, err := c.AttrBool("exclude-pad", false)
		if err != nil {
			return err
		}
		inc := int64(1)
		if ex {
			inc = 0
		}
		attrs = append(attrs, onnxmodel.AttrInt("count_include_pad", inc))
		c.Set(0, c.Node("AveragePool", []Value{c.In(0)}, attrs...))
		return nil
	})
	register("AdaptiveAvgPool", opsets(8), "Slice, ReduceMean, Concat, Reshape",
		"the input's spatial dims and output_shape must be static", func(c *Ctx) error { return adaptivePool(c, false) })
	register("AdaptiveMaxPool", opsets(8), "Slice, ReduceMax, ArgMax, Concat, Reshape",
		"the input's spatial dims and output_shape must be static; ties give the first index", func(c *Ctx) error { return adaptivePool(c, true) })
}

// poolAttrs reads kernel, strides, pads, auto_pad, rounding_type (and
// dilations when withDilations) as ONNX pooling attributes.
func poolAttrs(c *Ctx, n int, withDilations bool) ([]*onnxpb.AttributeProto, error) {
	a, err := convReadAttrs(c, n)
	if err != nil {
		return nil, err
	}
	kernel, err := c.AttrInts("kernel", nil)
	if err != nil {
		return nil, err
	}
	if len(kernel) != n {
		return nil, Unsupported("kernel=%v for %d spatial axes", kernel, n)
	}
	if err := a.resolveSame(c, kernel); err != nil {
		return nil, err
	}
	attrs := append(a.onnx(withDilations), onnxmodel.AttrInts("kernel_shape", kernel...))
	switch r := c.AttrString("rounding_type", "floor"); r {
	case "floor", "FLOOR", "":
	case "ceil", "CEIL":
		// ONNX Runtime drops a last window that starts in the end padding
		// (PyTorch's rule), the spec keeps it: refuse where that happens.
		if a.autoPad == "NOTSET" {
			in, _ := c.InShape(0)
			for i := range n {
				if !in[i+2].Static() {
					return nil, Unsupported("rounding_type=ceil with a dynamic spatial dim")
				}
				x := in[i+2].Size() + a.padsBegin[i] + a.padsEnd[i]
				dk := (kernel[i]-1)*a.dilations[i] + 1
				out := (x-dk+a.strides[i]-1)/a.strides[i] + 1
				if (out-1)*a.strides[i] >= in[i+2].Size()+a.padsBegin[i] {
					return nil, Unsupported("rounding_type=ceil where the last window starts in the end padding")
				}
			}
		}
		attrs = append(attrs, onnxmodel.AttrInt("ceil_mode", 1))
	default:
		return nil, Unsupported("rounding_type=%q", r)
	}
	return attrs, nil
}

// maxPool translates MaxPool-1 and, with v8, MaxPool-8.
func maxPool(c *Ctx, v8 bool) error {
	n, err := convSpatial(c)
	if err != nil {
		return err
	}
	attrs, err := poolAttrs(c, n, v8)
	if err != nil {
		return err
	}
	if !v8 || c.NumOutputs() < 2 {
		c.Set(0, c.Node("MaxPool", []Value{c.In(0)}, attrs...))
		return nil
	}
	outs := c.MultiNode("MaxPool", 2, []Value{c.In(0)}, attrs...)
	c.Set(0, outs[0])
	idx := outs[1]
	axis, err := c.AttrInt("axis", 0)
	if err != nil {
		return err
	}
	r := int64(n + 2)
	if axis < -r || axis >= r {
		return Unsupported("axis=%d for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	if axis > 0 {
		in, _ := c.InShape(0)
		var bound Value
		if in[axis:].Static() {
			p := int64(1)
			for _, d := range in[axis:] {
				p *= d.Size()
			}
			bound = c.Ints(p)
		} else {
			shape := c.Node("Shape", []Value{c.In(0)}, onnxmodel.AttrInt("start", axis))
			bound = c.Node("ReduceProd", []Value{shape}, onnxmodel.AttrInt("keepdims", 1))
		}
		idx = c.Node("Mod", []Value{idx, bound})
	}
	idx, err = poolIndexType(c, idx)
	if err != nil {
		return err
	}
	c.Set(1, idx)
	return nil
}

// poolIndexType casts an indices output (int64) to the layer's
// index_element_type, i64 (the default) or i32.
func poolIndexType(c *Ctx, idx Value) (Value, error) {
	switch t := c.AttrString("index_element_type", "i64"); t {
	case "i64", "I64", "":
		return idx, nil
	case "i32", "I32":
		return c.Cast(idx, irmodel.I32), nil
	default:
		return Value{}, Unsupported("index_element_type=%q", t)
	}
}

// adaptivePool translates AdaptiveAvgPool-8 and AdaptiveMaxPool-8. Bin i of
// an axis of input size X and output size O covers [floor(i*X/O),
// ceil((i+1)*X/O)); each bin is sliced, flattened to [N, C, -1] and
// reduced, the bins are concatenated and reshaped to [N, C, O...]. Max
// indices are flat over the spatial dims of one channel.
func adaptivePool(c *Ctx, isMax bool) error {
	n, err := convSpatial(c)
	if err != nil {
		return err
	}
	in, _ := c.InShape(0)
	if !in[2:].Static() {
		return Unsupported("dynamic spatial dims")
	}
	outSize, err := c.ConstInts(1)
	if err != nil {
		return err
	}
	if len(outSize) != n {
		return Unsupported("output_shape %v for %d spatial axes", outSize, n)
	}
	x := in[2:].Sizes()
	bins := int64(1)
	for _, o := range outSize {
		if o <= 0 {
			return Unsupported("output_shape %v", outSize)
		}
		bins *= o
	}
	if bins > 4096 {
		return Unsupported("%d output bins (at most 4096 are built as a subgraph)", bins)
	}
	axes := make([]int64, n)
	for i := range axes {
		axes[i] = int64(i + 2)
	}
	axesV := c.Ints(axes...)
	flat := c.Ints(0, 0, -1)
	var vals, idxs []Value
	pos := make([]int64, n)
	for range bins {
		starts, ends, sizes := make([]int64, n), make([]int64, n), make([]int64, n)
		for i := range n {
			starts[i] = pos[i] * x[i] / outSize[i]
			ends[i] = ((pos[i]+1)*x[i] + outSize[i] - 1) / outSize[i]
			sizes[i] = ends[i] - starts[i]
		}
		box := c.Node("Reshape", []Value{c.Node("Slice", []Value{c.In(0), c.Ints(starts...), c.Ints(ends...), axesV}), flat})
		if isMax {
			vals = append(vals, c.Node("ReduceMax", []Value{box, c.Ints(2)}, onnxmodel.AttrInt("keepdims", 1)))
			local := c.Node("ArgMax", []Value{box}, onnxmodel.AttrInt("axis", 2), onnxmodel.AttrInt("keepdims", 1))
			// local flat index within the box -> flat index in the spatial dims.
			var global Value
			stride := int64(1)
			rest := local
			for i := n - 1; i >= 0; i-- {
				coord := c.Node("Add", []Value{c.Node("Mod", []Value{rest, c.Ints(sizes[i])}), c.Ints(starts[i])})
				term := c.Node("Mul", []Value{coord, c.Ints(stride)})
				if i == n-1 {
					global = term
				} else {
					global = c.Node("Add", []Value{global, term})
				}
				rest = c.Node("Div", []Value{rest, c.Ints(sizes[i])})
				stride *= x[i]
			}
			idxs = append(idxs, global)
		} else {
			vals = append(vals, c.Node("ReduceMean", []Value{box, c.Ints(2)}, onnxmodel.AttrInt("keepdims", 1)))
		}
		for i := n - 1; i >= 0; i-- { // next bin, last axis fastest
			if pos[i]++; pos[i] < outSize[i] {
				break
			}
			pos[i] = 0
		}
	}
	target := c.Ints(append([]int64{0, 0}, outSize...)...)
	join := func(vs []Value) Value {
		if len(vs) == 1 {
			return c.Node("Reshape", []Value{vs[0], target})
		}
		return c.Node("Reshape", []Value{c.Node("Concat", vs, onnxmodel.AttrInt("axis", 2)), target})
	}
	c.Set(0, join(vals))
	if isMax && c.NumOutputs() > 1 {
		idx, err := poolIndexType(c, join(idxs))
		if err != nil {
			return err
		}
		c.Set(1, idx)
	}
	return nil
}
