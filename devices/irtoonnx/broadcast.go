package irtoonnx

import (
	"slices"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Broadcast and Tile. Broadcast numpy and bidirectional are ONNX Expand
// (numpy's result is the target shape for every valid model); explicit
// unsqueezes data to the target rank by axes_mapping, then expands.

func init() {
	register("Broadcast", opsets(1, 3), "Expand (Unsqueeze for explicit)",
		"modes numpy, explicit (axes_mapping a constant; needs the target shape's length) and, in v3, bidirectional; pdpd is not translated",
		bcastBroadcast)
	register("Tile", opsets(1), "Tile", "repeats shorter than the rank are padded with leading 1s, longer ones add leading dims to data; needs the data rank and repeats' length", bcastTile)
}

func bcastBroadcast(c *Ctx) error {
	mode := c.AttrString("mode", "numpy")
	target := mvI64(c, 1)
	if v, err := c.ConstInts(1); err == nil {
		target = c.Ints(v...)
	}
	switch {
	case mode == "numpy", mode == "bidirectional" && c.L.Version == "opset3":
		c.Set(0, c.Node("Expand", []Value{c.In(0), target}))
		return nil
	case mode != "explicit":
		return Unsupported("mode=%q", mode)
	}
	if c.NumInputs() < 3 {
		return Unsupported("mode explicit without axes_mapping")
	}
	mapping, err := c.ConstInts(2)
	if err != nil {
		return Unsupported("axes_mapping (input 2) must be a constant")
	}
	n, ok := mvStaticLen(c, 1)
	if !ok {
		return Unsupported("mode explicit needs target_shape's length, which is dynamic")
	}
	if !slices.IsSorted(mapping) {
		return Unsupported("axes_mapping %v is not increasing", mapping)
	}
	var axes []int64
	for i := range int64(n) {
		if !slices.Contains(mapping, i) {
			axes = append(axes, i)
		}
	}
	data := c.In(0)
	if len(axes) > 0 {
		data = c.Node("Unsqueeze", []Value{data, c.Ints(axes...)})
	}
	c.Set(0, c.Node("Expand", []Value{data, target}))
	return nil
}

func bcastTile(c *Ctx) error {
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	var reps Value
	var n int
	if v, err := c.ConstInts(1); err == nil {
		n = len(v)
		for len(v) < r {
			v = append([]int64{1}, v...)
		}
		reps = c.Ints(v...)
	} else {
		var ok bool
		if n, ok = mvStaticLen(c, 1); !ok {
			return Unsupported("repeats (input 1) has no static length")
		}
		reps = c.Node("Reshape", []Value{mvI64(c, 1), c.Ints(-1)})
		if n < r {
			ones := make([]int64, r-n)
			for i := range ones {
				ones[i] = 1
			}
			reps = c.Node("Concat", []Value{c.Ints(ones...), reps}, onnxmodel.AttrInt("axis", 0))
		}
	}
	data := c.In(0)
	if n > r {
		data = c.Node("Unsqueeze", []Value{data, c.Ints(mvSeq(0, int64(n-r))...)})
	}
	c.Set(0, c.Node("Tile", []Value{data, reps}))
	return nil
}
