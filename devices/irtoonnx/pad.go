package irtoonnx

import (
	"math"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Pad-1 and Pad-12 (negative pads crop) in modes constant, edge, reflect and
// symmetric. Constant pads: the positive part is padded (ONNX Pad, or for
// symmetric a Concat of reversed slices, which ONNX Pad cannot do), then
// the negative part is sliced off, so reflections are taken from the whole
// input as the spec's coordinate mapping does. Computed pads go to ONNX Pad
// as they are.

func init() {
	register("Pad", opsets(1), "Pad (Concat of reversed Slices for symmetric)",
		"symmetric needs constant pads", func(c *Ctx) error { return padOp(c, false) })
	register("Pad", opsets(12), "Pad, Slice for negative pads (Concat of reversed Slices for symmetric)",
		"symmetric and negative pads need constant pads", func(c *Ctx) error { return padOp(c, true) })
}

// padOp translates Pad; v12 allows negative pads.
func padOp(c *Ctx, v12 bool) error {
	mode := c.AttrString("pad_mode", "constant")
	switch mode {
	case "constant", "edge", "reflect", "symmetric":
	default:
		return Unsupported("pad_mode=%q", mode)
	}
	var value Value
	if mode == "constant" && c.NumInputs() > 3 {
		value = c.In(3)
	}
	pb, errB := c.ConstInts(1)
	pe, errE := c.ConstInts(2)
	if errB != nil || errE != nil { // computed pads
		if mode == "symmetric" {
			return Unsupported("pad_mode=symmetric with computed pads")
		}
		pads := c.Node("Concat", []Value{c.Cast(c.In(1), irmodel.I64), c.Cast(c.In(2), irmodel.I64)}, onnxmodel.AttrInt("axis", 0))
		c.Set(0, c.Node("Pad", []Value{c.In(0), pads, value}, onnxmodel.AttrString("mode", mode)))
		return nil
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	if len(pb) != r || len(pe) != r {
		return Unsupported("pads %v, %v for rank %d", pb, pe, r)
	}
	posB, posE := make([]int64, r), make([]int64, r)
	var cropAxes, cropStarts, cropEnds []int64
	for i := range r {
		if !v12 && (pb[i] < 0 || pe[i] < 0) {
			return Unsupported("negative pads in Pad-1")
		}
		posB[i], posE[i] = max(pb[i], 0), max(pe[i], 0)
		if pb[i] < 0 || pe[i] < 0 {
			cropAxes = append(cropAxes, int64(i))
			cropStarts = append(cropStarts, -min(pb[i], 0))
			end := int64(math.MaxInt64)
			if pe[i] < 0 {
				end = pe[i]
			}
			cropEnds = append(cropEnds, end)
		}
	}
	y := c.In(0)
	if anyNonZero(posB) || anyNonZero(posE) {
		if mode == "symmetric" {
			y = padSymmetric(c, y, posB, posE)
		} else {
			y = c.Node("Pad", []Value{y, c.Ints(append(append([]int64{}, posB...), posE...)...), value}, onnxmodel.AttrString("mode", mode))
		}
	}
	if cropAxes != nil {
		y = c.Node("Slice", []Value{y, c.Ints(cropStarts...), c.Ints(cropEnds...), c.Ints(cropAxes...)})
	}
	c.Set(0, y)
	return nil
}

// padSymmetric pads each axis with the mirror image of its edge including
// the edge element: begin p takes elements p-1..0, end p the last p
// elements reversed.
func padSymmetric(c *Ctx, x Value, pb, pe []int64) Value {
	for axis := range pb {
		if pb[axis] == 0 && pe[axis] == 0 {
			continue
		}
		ax := c.Ints(int64(axis))
		parts := []Value{}
		if p := pb[axis]; p > 0 {
			parts = append(parts, c.Node("Slice", []Value{x, c.Ints(p - 1), c.Ints(math.MinInt64), ax, c.Ints(-1)}))
		}
		parts = append(parts, x)
		if p := pe[axis]; p > 0 {
			parts = append(parts, c.Node("Slice", []Value{x, c.Ints(-1), c.Ints(-1 - p), ax, c.Ints(-1)}))
		}
		x = c.Node("Concat", parts, onnxmodel.AttrInt("axis", int64(axis)))
	}
	return x
}
