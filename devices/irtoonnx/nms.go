package irtoonnx

import (
	"math"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// NonMaxSuppression-5 and -9 as ONNX NonMaxSuppression plus the pieces
// OpenVINO's op has and ONNX's lacks: a score kept when it is greater than
// or equal to score_threshold (ONNX keeps strictly greater ones), the
// selected_scores and valid_outputs outputs, the sort across batches
// (sort_result_descending), i32 output, and the padding with -1 rows up to
// the output size the IR declares when it declares a static one.

func init() {
	register("NonMaxSuppression", opsets(5, 9), "NonMaxSuppression, GatherND, TopK, Concat",
		"soft_nms_sigma must be absent or a constant 0; selected_indices and selected_scores are padded with -1 rows when the IR declares a static first dimension",
		nmsOp)
}

func nmsOp(c *Ctx) error {
	enc := c.AttrString("box_encoding", "corner")
	center := int64(0)
	switch enc {
	case "corner":
	case "center":
		center = 1
	default:
		return Unsupported("box_encoding=%q", enc)
	}
	sortDesc, err := c.AttrBool("sort_result_descending", true)
	if err != nil {
		return err
	}
	switch ot := c.AttrString("output_type", "i64"); ot {
	case "i64", "i32":
	default:
		return Unsupported("output_type=%q", ot)
	}
	if c.NumInputs() > 5 {
		sig, err := c.ConstFloats(5)
		if err != nil {
			return Unsupported("soft_nms_sigma must be a constant (Soft-NMS is not translated)")
		}
		for _, s := range sig {
			if s != 0 {
				return Unsupported("soft_nms_sigma=%g (Soft-NMS is not translated)", s)
			}
		}
	}
	boxes, scores := c.In(0), c.In(1)
	if c.InType(0) != irmodel.F32 {
		boxes = c.Cast(boxes, irmodel.F32)
	}
	if c.InType(1) != irmodel.F32 {
		scores = c.Cast(scores, irmodel.F32)
	}
	scalar := func(v Value) Value { return c.Node("Reshape", []Value{v, c.Ints()}) }
	var maxOut, iou, scoreThr Value
	if c.NumInputs() > 2 {
		maxOut = scalar(c.Cast(c.In(2), irmodel.I64))
	} else {
		maxOut = c.Int(0)
	}
	if c.NumInputs() > 3 {
		iou = scalar(c.Cast(c.In(3), irmodel.F32))
	} else {
		iou = c.Scalar(irmodel.F32, 0)
	}
	if c.NumInputs() > 4 {
		scoreThr = scalar(c.Cast(c.In(4), irmodel.F32))
	} else {
		scoreThr = c.Scalar(irmodel.F32, 0)
	}
	// OpenVINO keeps score >= threshold; ONNX keeps score > threshold. Scores
	// below the threshold become -inf and ONNX's threshold the lowest float,
	// so the comparison is OpenVINO's, exactly, for any threshold.
	keep := c.Node("GreaterOrEqual", []Value{scores, scoreThr})
	masked := c.Node("Where", []Value{keep, scores, c.Scalar(irmodel.F32, math.Inf(-1))})
	sel := c.Node("NonMaxSuppression", []Value{boxes, masked, maxOut, iou, c.Scalar(irmodel.F32, -math.MaxFloat32)},
		onnxmodel.AttrInt("center_point_box", center))
	selScore := c.Node("GatherND", []Value{scores, sel}) // [n]
	if sortDesc {
		n := c.Node("Slice", []Value{c.Node("Shape", []Value{sel}), c.Ints(0), c.Ints(1)}) // [1]
		topk := c.MultiNode("TopK", 2, []Value{selScore, n}, onnxmodel.AttrInt("largest", 1), onnxmodel.AttrInt("sorted", 1))
		sel = c.Node("Gather", []Value{sel, topk[1]}, onnxmodel.AttrInt("axis", 0))
		selScore = topk[0]
	}
	bc := c.Cast(c.Node("Slice", []Value{sel, c.Ints(0), c.Ints(2), c.Ints(1)}), irmodel.F32) // [n,2]
	scoreRows := c.Node("Concat", []Value{bc, c.Node("Unsqueeze", []Value{selScore, c.Ints(1)})}, onnxmodel.AttrInt("axis", 1))
	valid := c.Node("Slice", []Value{c.Node("Shape", []Value{sel}), c.Ints(0), c.Ints(1)})
	if rows := nmsDeclaredRows(c); rows >= 0 {
		sel = nmsPad(c, sel, rows, onnxmodel.Int64Tensor("", []int64{rows, 3}, nmsFill(rows*3, int64(-1))))
		scoreRows = nmsPad(c, scoreRows, rows, onnxmodel.Float32Tensor("", []int64{rows, 3}, nmsFill(rows*3, float32(-1))))
	}
	outT := c.OutType(0)
	if outT == "" {
		outT = irmodel.I64
	}
	if outT != irmodel.I64 {
		sel = c.Cast(sel, outT)
	}
	c.Set(0, sel)
	if c.NumOutputs() > 1 {
		if t := c.OutType(1); t != "" && t != irmodel.F32 {
			scoreRows = c.Cast(scoreRows, t)
		}
		c.Set(1, scoreRows)
	}
	if c.NumOutputs() > 2 {
		if t := c.OutType(2); t != "" && t != irmodel.I64 {
			valid = c.Cast(valid, t)
		}
		c.Set(2, valid)
	}
	return nil
}

// nmsDeclaredRows is the static first dimension the IR declares for
// selected_indices, or -1 when it is dynamic (no padding then).
func nmsDeclaredRows(c *Ctx) int64 {
	s := c.OutPort(0).Shape
	if c.OutPort(0).DynamicRank || len(s) != 2 || !s[0].Static() {
		return -1
	}
	return s[0].Size()
}

// nmsPad appends the -1 rows of fill to v and keeps the first rows rows.
func nmsPad(c *Ctx, v Value, rows int64, fill *onnxpb.TensorProto) Value {
	all := c.Node("Concat", []Value{v, c.Tensor(fill)}, onnxmodel.AttrInt("axis", 0))
	return c.Node("Slice", []Value{all, c.Ints(0), c.Ints(rows), c.Ints(0)})
}

func nmsFill[T any](n int64, v T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}
