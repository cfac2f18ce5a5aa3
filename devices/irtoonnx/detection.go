package irtoonnx

import (
	"math"
	"strings"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// DetectionOutput-1/-8 for the SSD settings (Caffe's algorithm) as an ONNX
// subgraph:
//
//  1. decode: the location offsets [N, P*4] against the priors [1 or N, 2,
//     P*4] (boxes, then variances): CENTER_SIZE gives centre
//     var0*dx*pw + pcx, var1*dy*ph + pcy and size exp(var2*dw)*pw,
//     exp(var3*dh)*ph; CORNER gives prior + var*offset; clip_before_nms
//     clips to [0, 1];
//  2. scores [N, P*C] seen as [N, C, P]; the background class and scores
//     not above confidence_threshold become -inf; with top_k only each
//     class's top_k highest scores stay candidates (TopK, ScatterElements);
//  3. per-class greedy NMS (ONNX NonMaxSuppression: a box is dropped when
//     its IoU with a kept box exceeds nms_threshold), giving the
//     detections in batch, class, decreasing score order;
//  4. keep_top_k: each batch keeps its keep_top_k best detections (a sort
//     by score then a stable sort by batch ranks them), in the same order;
//  5. rows [batch, label, score, xmin, ymin, xmax, ymax] (clip_after_nms
//     clips the box), then a row with batch -1 and zero rows up to the
//     output size the spec gives: N*keep_top_k[0], else N*top_k*C, else
//     N*C*P.
//
// With normalized false the priors hold 5 values each (the first unused)
// in pixels, divided by input_width and input_height, and the variances
// (4 per prior) follow them.
//
// Not translated (Unsupported with the attribute): share_location false,
// variance_encoded_in_target true, decrease_label_id true, code_type CORNER_SIZE, and the two extra inputs of the
// RefineDet form.

func init() {
	register("DetectionOutput", opsets(1, 8), "NonMaxSuppression, TopK, ScatterElements, GatherND, Compress",
		"SSD form: share_location true, variance_encoded_in_target false, decrease_label_id false, code_type CENTER_SIZE or CORNER, three inputs",
		detectionOutputOp)
}

func detectionOutputOp(c *Ctx) error {
	if c.NumInputs() != 3 {
		return Unsupported("%d inputs (the RefineDet form with 5 is not translated)", c.NumInputs())
	}
	for _, b := range []struct {
		name string
		def  bool
		want bool
	}{{"share_location", true, true}, {"variance_encoded_in_target", false, false}, {"decrease_label_id", false, false}} {
		v, err := c.AttrBool(b.name, b.def)
		if err != nil {
			return err
		}
		if v != b.want {
			return Unsupported("%s=%q", b.name, c.AttrString(b.name, ""))
		}
	}
	code := c.AttrString("code_type", "caffe.PriorBoxParameter.CORNER")
	center := false
	switch strings.TrimPrefix(code, "caffe.PriorBoxParameter.") {
	case "CENTER_SIZE":
		center = true
	case "CORNER":
	default:
		return Unsupported("code_type=%q", code)
	}
	background, err := c.AttrInt("background_label_id", 0)
	if err != nil {
		return err
	}
	topK, err := c.AttrInt("top_k", -1)
	if err != nil {
		return err
	}
	keep, err := c.AttrInts("keep_top_k", []int64{-1})
	if err != nil {
		return err
	}
	nmsThr, err := c.AttrFloat("nms_threshold", 0)
	if err != nil {
		return err
	}
	confThr, err := c.AttrFloat("confidence_threshold", 0)
	if err != nil {
		return err
	}
	clipBefore, err := c.AttrBool("clip_before_nms", false)
	if err != nil {
		return err
	}
	clipAfter, err := c.AttrBool("clip_after_nms", false)
	if err != nil {
		return err
	}
	locShape, _ := c.InShape(0)
	confShape, _ := c.InShape(1)
	if len(locShape) != 2 || !locShape[1].Static() || len(confShape) != 2 || !confShape[1].Static() {
		return Unsupported("box logits and class predictions need static second dimensions")
	}
	P := locShape[1].Size() / 4
	if P == 0 || locShape[1].Size()%4 != 0 || confShape[1].Size()%P != 0 {
		return Unsupported("box logits %v and class predictions %v do not fit", locShape, confShape)
	}
	C := confShape[1].Size() / P
	if c.L.Version == "opset1" {
		if nc, err := c.AttrInt("num_classes", C); err != nil {
			return err
		} else if nc != C {
			return Unsupported("num_classes=%d with %d class predictions per prior", nc, C)
		}
	}
	ft := c.InType(0)
	f32 := func(v Value, t irmodel.ElementType) Value {
		if t != irmodel.F32 {
			return c.Cast(v, irmodel.F32)
		}
		return v
	}
	ax := func(n int64) *onnxpb.AttributeProto { return onnxmodel.AttrInt("axis", n) }
	loc := c.Node("Reshape", []Value{f32(c.In(0), ft), c.Ints(0, P, 4)}) // [N, P, 4]
	normalized, err := c.AttrBool("normalized", false)
	if err != nil {
		return err
	}
	var pbox, pvar Value // [B, P, 4]
	if normalized {
		priors := c.Node("Reshape", []Value{f32(c.In(2), c.InType(2)), c.Ints(-1, 2, P, 4)}) // [B, 2, P, 4]
		pv := c.MultiNode("Split", 2, []Value{priors, c.Ints(1, 1)}, ax(1))                  // [B, 1, P, 4] each
		pbox = c.Node("Squeeze", []Value{pv[0], c.Ints(1)})
		pvar = c.Node("Squeeze", []Value{pv[1], c.Ints(1)})
	} else {
		// Priors of 5 values (the first unused), in pixels: divided by
		// input_width and input_height; the variances, 4 per prior, follow
		// the P*5 box values.
		iw, err := c.AttrInt("input_width", 1)
		if err != nil {
			return err
		}
		ih, err := c.AttrInt("input_height", 1)
		if err != nil {
			return err
		}
		flat := c.Node("Reshape", []Value{f32(c.In(2), c.InType(2)), c.Ints(0, -1)}) // [B, 2*P*5]
		b5 := c.Node("Reshape", []Value{c.Node("Slice", []Value{flat, c.Ints(0), c.Ints(P * 5), c.Ints(1)}), c.Ints(0, P, 5)})
		pbox = c.Node("Div", []Value{c.Node("Slice", []Value{b5, c.Ints(1), c.Ints(5), c.Ints(2)}),
			c.Tensor(onnxmodel.Float32Tensor("", []int64{4}, []float32{float32(iw), float32(ih), float32(iw), float32(ih)}))})
		pvar = c.Node("Reshape", []Value{c.Node("Slice", []Value{flat, c.Ints(P * 5), c.Ints(P * 9), c.Ints(1)}), c.Ints(0, P, 4)})
	}
	var boxes Value
	if center {
		pc := c.MultiNode("Split", 2, []Value{pbox, c.Ints(2, 2)}, ax(2)) // mins, maxs [B, P, 2]
		size := c.Node("Sub", []Value{pc[1], pc[0]})
		mid := c.Node("Mul", []Value{c.Node("Add", []Value{pc[0], pc[1]}), c.Scalar(irmodel.F32, 0.5)})
		d := c.MultiNode("Split", 2, []Value{c.Node("Mul", []Value{loc, pvar}), c.Ints(2, 2)}, ax(2))
		ctr := c.Node("Add", []Value{c.Node("Mul", []Value{d[0], size}), mid})
		half := c.Node("Mul", []Value{c.Node("Mul", []Value{c.Node("Exp", []Value{d[1]}), size}), c.Scalar(irmodel.F32, 0.5)})
		boxes = c.Node("Concat", []Value{c.Node("Sub", []Value{ctr, half}), c.Node("Add", []Value{ctr, half})}, ax(2))
	} else {
		boxes = c.Node("Add", []Value{pbox, c.Node("Mul", []Value{loc, pvar})})
	}
	clip := func(v Value) Value {
		return c.Node("Clip", []Value{v, c.Scalar(irmodel.F32, 0), c.Scalar(irmodel.F32, 1)})
	}
	if clipBefore {
		boxes = clip(boxes)
	}
	scores := c.Node("Transpose", []Value{c.Node("Reshape", []Value{f32(c.In(1), c.InType(1)), c.Ints(0, P, C)})},
		onnxmodel.AttrInts("perm", 0, 2, 1)) // [N, C, P]
	allowed := make([]float32, C)
	for i := range allowed {
		if int64(i) != background {
			allowed[i] = 1
		}
	}
	cand := c.Node("And", []Value{
		c.Node("Greater", []Value{scores, c.Scalar(irmodel.F32, confThr)}),
		c.Node("Cast", []Value{c.Tensor(onnxmodel.Float32Tensor("", []int64{1, C, 1}, allowed))}, onnxmodel.AttrInt("to", int64(onnxmodel.Bool))),
	})
	ninf := c.Scalar(irmodel.F32, math.Inf(-1))
	masked := c.Node("Where", []Value{cand, scores, ninf})
	if topK == 0 { // top_k 0 keeps no candidate
		masked = c.Node("Where", []Value{cand, ninf, masked})
	}
	if topK > 0 && topK < P {
		idx := c.MultiNode("TopK", 2, []Value{masked, c.Ints(topK)}, ax(2), onnxmodel.AttrInt("largest", 1), onnxmodel.AttrInt("sorted", 1))[1]
		zeros := detectionFill(c, c.Node("Shape", []Value{masked}), 0)
		ones := detectionFill(c, c.Node("Shape", []Value{idx}), 1)
		inTop := c.Node("ScatterElements", []Value{zeros, idx, ones}, ax(2))
		masked = c.Node("Where", []Value{c.Node("Greater", []Value{inTop, c.Scalar(irmodel.F32, 0)}), masked, ninf})
	}
	sel := c.Node("NonMaxSuppression", []Value{boxes, masked, c.Int(P), c.Scalar(irmodel.F32, nmsThr), c.Scalar(irmodel.F32, -math.MaxFloat32)})
	score := c.Node("GatherND", []Value{scores, sel}) // [S]
	if k := keep[0]; k >= 0 {
		sel, score = detectionKeepTopK(c, sel, score, k, shapeDims(c, c.In(0), 0, 1))
	}
	nb := c.Node("Slice", []Value{sel, c.Ints(0), c.Ints(1), c.Ints(1)})                // [S,1]
	np := c.Node("Slice", []Value{sel, c.Ints(2), c.Ints(3), c.Ints(1)})                // [S,1]
	box := c.Node("GatherND", []Value{boxes, c.Node("Concat", []Value{nb, np}, ax(1))}) // [S,4]
	if clipAfter {
		box = clip(box)
	}
	bl := c.Cast(c.Node("Slice", []Value{sel, c.Ints(0), c.Ints(2), c.Ints(1)}), irmodel.F32)
	rows := c.Node("Concat", []Value{bl, c.Node("Unsqueeze", []Value{score, c.Ints(1)}), box}, ax(1)) // [S,7]
	per := P * C
	switch {
	case keep[0] > 0:
		per = keep[0]
	case topK > 0:
		per = topK * C
	}
	n := shapeDims(c, c.In(0), 0, 1)
	total := c.Node("Mul", []Value{n, c.Ints(per)}) // [1]
	marker := c.Tensor(onnxmodel.Float32Tensor("", []int64{1, 7}, []float32{-1, 0, 0, 0, 0, 0, 0}))
	pad := c.Node("Expand", []Value{c.Scalar(irmodel.F32, 0), c.Node("Concat", []Value{total, c.Ints(7)}, ax(0))})
	all := c.Node("Concat", []Value{rows, marker, pad}, ax(0))
	out := c.Node("Slice", []Value{all, c.Ints(0), total, c.Ints(0)})
	out = c.Node("Reshape", []Value{out, c.Ints(1, 1, -1, 7)})
	if t := c.OutType(0); t != "" && t != irmodel.F32 {
		out = c.Cast(out, t)
	}
	c.Set(0, out)
	return nil
}

// detectionKeepTopK keeps, per batch, the k detections of highest score,
// in their original order: the detections sorted by score, then stably by
// batch, are ranked inside their batch; the rank goes back to each
// detection and those ranked below k are kept.
func detectionKeepTopK(c *Ctx, sel, score Value, k int64, nBatches Value) (Value, Value) {
	ax := func(n int64) *onnxpb.AttributeProto { return onnxmodel.AttrInt("axis", n) }
	s := shapeDims(c, score, 0, 1) // [1]
	byScore := c.MultiNode("TopK", 2, []Value{score, s}, ax(0), onnxmodel.AttrInt("largest", 1), onnxmodel.AttrInt("sorted", 1))[1]
	batch := c.Cast(c.Node("Reshape", []Value{c.Node("Slice", []Value{sel, c.Ints(0), c.Ints(1), c.Ints(1)}), c.Ints(-1)}), irmodel.F32)
	b1 := c.Node("Gather", []Value{batch, byScore}, ax(0))
	byBatch := c.MultiNode("TopK", 2, []Value{b1, s}, ax(0), onnxmodel.AttrInt("largest", 0), onnxmodel.AttrInt("sorted", 1))
	order := c.Node("Gather", []Value{byScore, byBatch[1]}, ax(0)) // original index of each sorted position
	sortedBatch := c.Cast(byBatch[0], irmodel.I64)
	// start of each batch's run = number of detections of lower batches.
	zeros := c.Node("Expand", []Value{c.Int(0), nBatches})
	ones := c.Node("Expand", []Value{c.Int(1), s})
	counts := c.Node("ScatterElements", []Value{zeros, sortedBatch, ones}, ax(0), onnxmodel.AttrString("reduction", "add"))
	starts := c.Node("Sub", []Value{c.Node("CumSum", []Value{counts, c.Int(0)}), counts})
	pos := c.Node("Range", []Value{c.Int(0), c.Node("Reshape", []Value{s, c.Ints()}), c.Int(1)})
	rank := c.Node("Sub", []Value{pos, c.Node("Gather", []Value{starts, sortedBatch}, ax(0))})
	rankOrig := c.Node("ScatterElements", []Value{c.Node("Expand", []Value{c.Int(0), s}), order, rank}, ax(0))
	keep := c.Node("Less", []Value{rankOrig, c.Int(k)})
	return c.Node("Compress", []Value{sel, keep}, ax(0)), c.Node("Compress", []Value{score, keep}, ax(0))
}

// detectionFill is an f32 tensor of the given shape filled with v.
func detectionFill(c *Ctx, shape Value, v float64) Value {
	return c.Node("ConstantOfShape", []Value{shape}, onnxmodel.AttrTensor("value", scalarTensorDims(irmodel.F32, v, []int64{1})))
}
