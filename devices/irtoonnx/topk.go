package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// TopK (v1, v3, v11). ONNX TopK sorts by value and, among equal values,
// puts the lower index first, which is the stable order v11 asks for;
// sort=index re-sorts the chosen elements by index with a second TopK on
// the indices.

func init() {
	register("TopK", opsets(1, 3, 11), "TopK (+ TopK, GatherElements for sort=index), Cast",
		"mode max/min; sort value/index/none (none gives value order); ties keep input order (stable); index_element_type i32/i64",
		topkTopK)
}

func topkTopK(c *Ctx) error {
	axis, err := c.AttrInt("axis", -1)
	if err != nil {
		return err
	}
	var largest int64
	switch mode := c.AttrString("mode", "max"); mode {
	case "max":
		largest = 1
	case "min":
		largest = 0
	default:
		return Unsupported("mode=%q", mode)
	}
	sort := c.AttrString("sort", "none")
	switch sort {
	case "value", "index", "none":
	default:
		return Unsupported("sort=%q", sort)
	}
	if _, err := c.AttrBool("stable", false); err != nil {
		return err
	}
	it := irmodel.ElementType(c.AttrString("index_element_type", "i32"))
	if t := c.OutType(1); t == irmodel.I32 || t == irmodel.I64 {
		it = t
	}
	if it != irmodel.I32 && it != irmodel.I64 {
		return Unsupported("index_element_type=%q", it)
	}
	k := c.Node("Reshape", []Value{mvI64(c, 1), c.Ints(1)})
	ax := onnxmodel.AttrInt("axis", axis)
	vi := c.MultiNode("TopK", 2, []Value{c.In(0), k}, ax, onnxmodel.AttrInt("largest", largest), onnxmodel.AttrInt("sorted", 1))
	vals, idx := vi[0], vi[1]
	if sort == "index" {
		si := c.MultiNode("TopK", 2, []Value{idx, k}, ax, onnxmodel.AttrInt("largest", 0), onnxmodel.AttrInt("sorted", 1))
		idx = si[0]
		vals = c.Node("GatherElements", []Value{vals, si[1]}, ax)
	}
	c.Set(0, vals)
	c.Set(1, mvTo(c, idx, irmodel.I64, it))
	return nil
}
