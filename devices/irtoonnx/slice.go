package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// Slicing: StridedSlice (every mask) becomes ONNX Slice on the input axes
// the slicing steps touch, Squeeze for shrink_axis_mask and Unsqueeze for
// new_axis_mask; Slice-8 is ONNX Slice.
//
// end_mask with a negative stride slices through the first element
// (x[::-1] reverses the whole axis), as OpenVINO computes it and as ONNX
// Slice does with an end of INT64_MIN; the StridedSlice-1 spec text says the
// end becomes 0 there (its example drops element 0), which OpenVINO's own
// slice plan does not do. Shrunk axes ignore begin_mask and stride.

func init() {
	register("StridedSlice", opsets(1), "Slice, Squeeze, Unsqueeze",
		"all masks; stride must be a constant when begin_mask/end_mask are used (their meaning depends on its sign); ellipsis_mask needs the input rank; computed begin/end need a static length",
		sliceStrided)
	register("Slice", opsets(8), "Slice", "", func(c *Ctx) error {
		ins := []Value{c.In(0), mvI64(c, 1), mvI64(c, 2), {}, mvI64(c, 3)}
		if c.NumInputs() > 4 {
			ins[3] = mvI64(c, 4)
		}
		c.Set(0, c.Node("Slice", ins))
		return nil
	})
}

// sliceMask reads a 0/1 list attribute, padded with zeros to n entries.
func sliceMask(c *Ctx, name string, n int) ([]bool, error) {
	v, err := c.AttrInts(name, nil)
	if err != nil {
		return nil, err
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = i < len(v) && v[i] != 0
	}
	return out, nil
}

// sliceAxis is what one slicing step does to one input axis.
type sliceAxis struct {
	axis   int64 // input axis
	step   int   // index of the slicing step (into begin/end/stride)
	shrink bool
	// begin and end say whether begin[step], end[step] apply (no mask).
	begin, end bool
}

func sliceStrided(c *Ctx) error {
	m, ok := mvStaticLen(c, 1)
	if !ok {
		return Unsupported("begin (input 1) has no static length")
	}
	if n, ok := mvStaticLen(c, 2); !ok || n != m {
		return Unsupported("end (input 2) must have begin's static length %d", m)
	}
	masks := map[string][]bool{}
	for _, name := range []string{"begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask", "ellipsis_mask"} {
		v, err := sliceMask(c, name, m)
		if err != nil {
			return err
		}
		masks[name] = v
	}
	// strides: a constant, else computed (allowed when no mask needs its sign)
	var strides []int64
	strideConst := true
	if c.NumInputs() > 3 {
		s, err := c.ConstInts(3)
		if err != nil {
			strideConst = false
		} else if len(s) != m {
			return Unsupported("stride has %d values, begin %d", len(s), m)
		} else {
			strides = s
		}
	}
	if strides == nil {
		strides = make([]int64, m)
		for i := range strides {
			strides[i] = 1
		}
	}
	newAxes := 0
	ellipsis := -1
	for i := range m {
		switch {
		case masks["ellipsis_mask"][i]:
			if ellipsis >= 0 {
				return Unsupported("ellipsis_mask has more than one bit set")
			}
			ellipsis = i
		case masks["new_axis_mask"][i]:
			newAxes++
		}
	}
	rank := -1
	if r, err := c.InRank(0); err == nil {
		rank = r
	}
	var plan []sliceAxis
	var unsq []int64 // output positions of new axes
	var squeeze []int64
	in, out := int64(0), int64(0)
	for i := range m {
		// OpenVINO's order: a new axis wins over shrink, shrink over the
		// ellipsis.
		switch {
		case masks["new_axis_mask"][i]:
			unsq = append(unsq, out)
			out++
		case masks["shrink_axis_mask"][i]:
			plan = append(plan, sliceAxis{axis: in, step: i, shrink: true, begin: true})
			squeeze = append(squeeze, in)
			in++
		case i == ellipsis:
			if rank < 0 {
				return Unsupported("ellipsis_mask needs the input rank, which is dynamic")
			}
			skip := int64(rank) - int64(m-newAxes-1)
			if skip < 0 {
				return Unsupported("ellipsis covers %d dims", skip)
			}
			in += skip
			out += skip
		default:
			if strides[i] == 0 && strideConst {
				return Unsupported("stride %d is zero", i)
			}
			if !strideConst && (masks["begin_mask"][i] || masks["end_mask"][i]) {
				return Unsupported("stride (input 3) must be a constant when begin_mask or end_mask is set")
			}
			plan = append(plan, sliceAxis{axis: in, step: i, begin: !masks["begin_mask"][i], end: !masks["end_mask"][i]})
			in++
			out++
		}
	}
	if rank >= 0 && in > int64(rank) {
		return Unsupported("%d slicing steps for an input of rank %d", in, rank)
	}
	v := c.In(0)
	if len(plan) > 0 {
		starts, ends, axes, steps := sliceBounds(c, plan, strides, strideConst)
		v = c.Node("Slice", []Value{v, starts, ends, axes, steps})
	}
	if len(squeeze) > 0 {
		v = c.Node("Squeeze", []Value{v, c.Ints(squeeze...)})
	}
	if len(unsq) > 0 {
		v = c.Node("Unsqueeze", []Value{v, c.Ints(unsq...)})
	}
	if v == c.In(0) {
		v = c.Node("Identity", []Value{v})
	}
	c.Set(0, v)
	return nil
}

// sliceBounds builds Slice's starts, ends, axes and steps for the plan:
// constants where begin and end are, else gathered from the computed
// inputs with the masked entries replaced.
func sliceBounds(c *Ctx, plan []sliceAxis, strides []int64, strideConst bool) (starts, ends, axes, steps Value) {
	begins, bErr := c.ConstInts(1)
	endsC, eErr := c.ConstInts(2)
	var ax []int64
	for _, p := range plan {
		ax = append(ax, p.axis)
	}
	axes = c.Ints(ax...)
	// per-step start and end, each a constant or a [1] value gathered from
	// the input
	var sv, ev []Value
	var sc, ec []int64
	constant := bErr == nil && eErr == nil
	for _, p := range plan {
		s := strides[p.step]
		if p.shrink {
			s = 1
		}
		var start, end int64
		switch {
		case !p.begin && s > 0:
			start = 0
		case !p.begin:
			start = mvMaxInt
		case bErr == nil:
			start = begins[p.step]
		}
		switch {
		case p.shrink && bErr == nil:
			end = start + 1
			if start == -1 {
				end = mvMaxInt
			}
		case !p.end && s > 0:
			end = mvMaxInt
		case !p.end:
			end = mvMinInt
		case eErr == nil:
			end = endsC[p.step]
		}
		sc, ec = append(sc, start), append(ec, end)
		if constant {
			continue
		}
		if p.begin && bErr != nil {
			sv = append(sv, c.Node("Gather", []Value{mvI64(c, 1), c.Ints(int64(p.step))}))
		} else {
			sv = append(sv, c.Ints(start))
		}
		switch {
		case p.shrink: // end = begin + 1, or the open end after -1
			b := sv[len(sv)-1]
			ev = append(ev, c.Node("Where", []Value{c.Node("Equal", []Value{b, c.Ints(-1)}), c.Ints(mvMaxInt), c.Node("Add", []Value{b, c.Ints(1)})}))
		case p.end && eErr != nil:
			ev = append(ev, c.Node("Gather", []Value{mvI64(c, 2), c.Ints(int64(p.step))}))
		default:
			ev = append(ev, c.Ints(end))
		}
	}
	if constant {
		starts, ends = c.Ints(sc...), c.Ints(ec...)
	} else {
		starts = c.Node("Concat", sv, onnxmodel.AttrInt("axis", 0))
		ends = c.Node("Concat", ev, onnxmodel.AttrInt("axis", 0))
	}
	if strideConst {
		var st []int64
		for _, p := range plan {
			if p.shrink {
				st = append(st, 1)
			} else {
				st = append(st, strides[p.step])
			}
		}
		steps = c.Ints(st...)
	} else {
		var idx []int64
		for _, p := range plan {
			idx = append(idx, int64(p.step))
		}
		steps = c.Node("Gather", []Value{mvI64(c, 3), c.Ints(idx...)})
		var shrinkMask []int64
		any := false
		for _, p := range plan {
			if p.shrink {
				shrinkMask = append(shrinkMask, 1)
				any = true
			} else {
				shrinkMask = append(shrinkMask, 0)
			}
		}
		if any { // shrunk axes step by 1 whatever the stride says
			ones := c.Node("Equal", []Value{c.Ints(shrinkMask...), c.Int(1)})
			steps = c.Node("Where", []Value{ones, c.Int(1), steps})
		}
	}
	return starts, ends, axes, steps
}
