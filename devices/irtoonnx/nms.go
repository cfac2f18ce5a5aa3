package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// NonMaxSuppression-5 and -9 as ONNX NonMaxSuppression plus the pieces
// OpenVINO's op has and ONNX's lacks: the selected_scores and valid_outputs
// outputs, the sort across batches (sort_result_descending), i32 output,
// NMS-5's suppression at IoU >= iou_threshold (NMS-9 and ONNX suppress
// above it), and the padding with -1 rows up to the output size the IR
// declares when it declares a static one. Scores are kept when greater
// than score_threshold, as OpenVINO's reference implementation and ONNX do.

func init() {
	register("NonMaxSuppression", opsets(5, 9), "NonMaxSuppression, GatherND, TopK, Concat",
		"soft_nms_sigma must be absent or a constant 0; scores kept when > score_threshold as in OpenVINO's reference (the v9 spec text says >=); NMS-5 suppresses at IoU >= iou_threshold; outputs padded with -1 rows when the IR declares a static first dimension",
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
	// ONNX Runtime takes iou_threshold in [0, 1]. NMS-5 drops a box whose
	// IoU with a kept one is >= iou_threshold, NMS-9 and ONNX one whose IoU
	// is above it: for NMS-5 the threshold becomes the largest float32
	// below it (t*(1-2^-24) rounds to it for t > 0). Where every IoU
	// reaches the threshold (t <= 0 for NMS-5, t < 0 for NMS-9) each class
	// keeps its best box only; above 1 nothing is dropped either way.
	zero := c.Scalar(irmodel.F32, 0)
	var onlyBest Value
	if c.L.Version == "opset5" {
		onlyBest = c.Node("LessOrEqual", []Value{iou, zero})
		below := c.Node("Mul", []Value{iou, c.Scalar(irmodel.F32, float64(float32(1-1.0/(1<<24))))})
		iou = c.Node("Where", []Value{onlyBest, zero, below})
	} else {
		onlyBest = c.Node("Less", []Value{iou, zero})
	}
	iou = c.Node("Clip", []Value{iou, zero, c.Scalar(irmodel.F32, 1)})
	maxOut = c.Node("Where", []Value{onlyBest, c.Node("Min", []Value{maxOut, c.Int(1)}), maxOut})
	// Scores must be greater than score_threshold, as in ONNX (OpenVINO's
	// reference and CPU plugin compare with >; the text of the v9 spec says
	// "greater or equal").
	sel := c.Node("NonMaxSuppression", []Value{boxes, scores, maxOut, iou, scoreThr},
		onnxmodel.AttrInt("center_point_box", center))
	selScore := c.Node("GatherND", []Value{scores, sel}) // [n]
	if sortDesc {
		n := shapeDims(c, sel, 0, 1) // [1]
		topk := c.MultiNode("TopK", 2, []Value{selScore, n}, onnxmodel.AttrInt("largest", 1), onnxmodel.AttrInt("sorted", 1))
		sel = c.Node("Gather", []Value{sel, topk[1]}, onnxmodel.AttrInt("axis", 0))
		selScore = topk[0]
	}
	bc := c.Cast(c.Node("Slice", []Value{sel, c.Ints(0), c.Ints(2), c.Ints(1)}), irmodel.F32) // [n,2]
	scoreRows := c.Node("Concat", []Value{bc, c.Node("Unsqueeze", []Value{selScore, c.Ints(1)})}, onnxmodel.AttrInt("axis", 1))
	valid := shapeDims(c, sel, 0, 1)
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
