package irtoonnx

import (
	"math"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Proposal-1/-4 (Faster R-CNN's region proposals, Caffe's form) as an ONNX
// subgraph. The anchors over the static feature map grid are computed in
// Go (Caffe's generate_anchors: ratios rounded, boxes with the +1 pixel
// convention) and emitted as constants: for proposal (h*W + w)*A + a, the
// width ww, height hh and centre of anchor a shifted by (w, h)*feat_stride.
// The graph then, per image:
//
//  1. decodes the deltas [N, 4A, H, W]: centre dx*ww + ctr, size
//     exp(dw)*ww (deltas divided by box_coordinate_scale and
//     box_size_scale), corners centre -/+ size/2, clipped to
//     [0, image - 1] with clip_before_nms;
//  2. takes the foreground scores (channels A..2A-1), zeroed for boxes
//     narrower or lower than min_size times the image scale;
//  3. keeps the pre_nms_topn best (TopK) and runs greedy NMS on them (ONNX
//     NonMaxSuppression on boxes grown by one pixel at the far corner, the
//     +1 convention of OpenVINO's IoU), at most post_nms_topn;
//  4. writes rows [image, x0, y0, x1, y1] (clip_after_nms clips to the
//     image, normalize divides by its size) at rows image*post_nms_topn
//     onwards, zero rows after them and -1 in the first of those; Proposal-4's
//     second output holds the scores, 0 after them.
//
// framework "tensorflow" is not translated; the feature map's spatial
// dims and the anchor count must be static.

func init() {
	register("Proposal", opsets(1, 4), "TopK, GatherND, NonMaxSuppression, ScatterND",
		"framework \"\" (Caffe) only; static feature map size; boxes that overlap only within the +1 pixel border count as overlapping", proposalOp)
}

// proposalAnchors is Caffe's generate_anchors for base_size, ratios and
// scales: A = len(ratios)*len(scales) boxes (x0, y0, x1, y1), ratio-major.
func proposalAnchors(base float32, ratios, scales []float32) [][4]float32 {
	var out [][4]float32
	area := base * base
	center := 0.5 * (base - 1)
	for _, r := range ratios {
		rw := float32(math.Round(float64(float32(math.Sqrt(float64(area / r)))))) // roundf of a float32 sqrt
		rh := float32(math.Round(float64(rw * r)))
		for _, s := range scales {
			sw := 0.5 * (rw*s - 1)
			sh := 0.5 * (rh*s - 1)
			out = append(out, [4]float32{center - sw, center - sh, center + sw, center + sh})
		}
	}
	return out
}

func proposalOp(c *Ctx) error {
	if fw := c.AttrString("framework", ""); fw == "tensorflow" { // OpenVINO reads any other value as Caffe
		return Unsupported("framework=%q", fw)
	}
	ints := map[string]int64{}
	for _, name := range []string{"base_size", "pre_nms_topn", "post_nms_topn", "feat_stride", "min_size"} {
		v, err := c.AttrInt(name, 0)
		if err != nil {
			// min_size and base_size may be written as floats.
			f, ferr := c.AttrFloat(name, 0)
			if ferr != nil || f != math.Trunc(f) {
				return err
			}
			v = int64(f)
		}
		ints[name] = v
	}
	if ints["post_nms_topn"] <= 0 || ints["pre_nms_topn"] <= 0 || ints["base_size"] <= 0 {
		return Unsupported("base_size=%d, pre_nms_topn=%d, post_nms_topn=%d", ints["base_size"], ints["pre_nms_topn"], ints["post_nms_topn"])
	}
	floats := map[string]float64{}
	for name, def := range map[string]float64{"nms_thresh": 0, "box_size_scale": 1, "box_coordinate_scale": 1} {
		v, err := c.AttrFloat(name, def)
		if err != nil {
			return err
		}
		floats[name] = v
	}
	ratio, err := c.AttrFloats("ratio", nil)
	if err != nil {
		return err
	}
	scale, err := c.AttrFloats("scale", nil)
	if err != nil {
		return err
	}
	clipBefore, err := c.AttrBool("clip_before_nms", true)
	if err != nil {
		return err
	}
	clipAfter, err := c.AttrBool("clip_after_nms", false)
	if err != nil {
		return err
	}
	normalize, err := c.AttrBool("normalize", false)
	if err != nil {
		return err
	}
	s, ok := c.InShape(0)
	if !ok || len(s) != 4 || !s[1].Static() || !s[2].Static() || !s[3].Static() {
		return Unsupported("class predictions need static channels, height and width")
	}
	A, H, W := s[1].Size()/2, s[2].Size(), s[3].Size()
	var rf, sf []float32
	for _, r := range ratio {
		rf = append(rf, float32(r))
	}
	for _, v := range scale {
		sf = append(sf, float32(v))
	}
	anchors := proposalAnchors(float32(ints["base_size"]), rf, sf)
	if int64(len(anchors)) != A {
		return Unsupported("%d anchors from ratio and scale, %d from the class predictions", len(anchors), A)
	}
	imgShape, ok := c.InShape(2)
	if !ok || len(imgShape) != 1 || !imgShape[0].Static() || (imgShape[0].Size() != 3 && imgShape[0].Size() != 4) {
		return Unsupported("image_shape must have 3 or 4 elements")
	}
	// The anchor grid, as OpenVINO computes it in float32.
	n := H * W * A
	ww, hh, cx, cy := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for h := range H {
		for w := range W {
			x, y := float32(w*ints["feat_stride"]), float32(h*ints["feat_stride"])
			for a, an := range anchors {
				i := (h*W+w)*A + int64(a)
				x0, y0, x1, y1 := x+an[0], y+an[1], x+an[2], y+an[3]
				ww[i], hh[i] = x1-x0+1, y1-y0+1
				cx[i], cy[i] = x0+0.5*ww[i], y0+0.5*hh[i]
			}
		}
	}
	cst := func(v []float32) Value { return c.Tensor(onnxmodel.Float32Tensor("", []int64{n}, v)) }
	f := func(v float64) Value { return c.Scalar(irmodel.F32, v) }
	ax := func(i int64) *onnxpb.AttributeProto { return onnxmodel.AttrInt("axis", i) }
	toF32 := func(v Value, t irmodel.ElementType) Value {
		if t != irmodel.F32 {
			return c.Cast(v, irmodel.F32)
		}
		return v
	}
	probs, deltas, img := toF32(c.In(0), c.InType(0)), toF32(c.In(1), c.InType(1)), toF32(c.In(2), c.InType(2))
	// deltas [N, 4A, H, W] -> [N, H*W*A, 4]
	d := c.Node("Reshape", []Value{c.Node("Transpose", []Value{c.Node("Reshape", []Value{deltas, c.Ints(0, A, 4, H, W)})},
		onnxmodel.AttrInts("perm", 0, 3, 4, 1, 2)), c.Ints(0, n, 4)})
	dp := c.MultiNode("Split", 4, []Value{d, c.Ints(1, 1, 1, 1)}, ax(2))
	sq := func(v Value) Value { return c.Node("Squeeze", []Value{v, c.Ints(2)}) } // [N, n]
	dx := c.Node("Div", []Value{sq(dp[0]), f(floats["box_coordinate_scale"])})
	dy := c.Node("Div", []Value{sq(dp[1]), f(floats["box_coordinate_scale"])})
	dw := c.Node("Div", []Value{sq(dp[2]), f(floats["box_size_scale"])})
	dh := c.Node("Div", []Value{sq(dp[3]), f(floats["box_size_scale"])})
	wwV, hhV := cst(ww), cst(hh)
	pcx := c.Node("Add", []Value{c.Node("Mul", []Value{dx, wwV}), cst(cx)})
	pcy := c.Node("Add", []Value{c.Node("Mul", []Value{dy, hhV}), cst(cy)})
	hw := c.Node("Mul", []Value{c.Node("Mul", []Value{c.Node("Exp", []Value{dw}), wwV}), f(0.5)})
	hh2 := c.Node("Mul", []Value{c.Node("Mul", []Value{c.Node("Exp", []Value{dh}), hhV}), f(0.5)})
	x0, x1 := c.Node("Sub", []Value{pcx, hw}), c.Node("Add", []Value{pcx, hw})
	y0, y1 := c.Node("Sub", []Value{pcy, hh2}), c.Node("Add", []Value{pcy, hh2})
	at := func(i int64) Value { return c.Node("Gather", []Value{img, c.Int(i)}, ax(0)) } // scalar
	imgH, imgW := at(0), at(1)
	scaleH := at(2)
	scaleW := scaleH
	if imgShape[0].Size() == 4 {
		scaleW = at(3)
	}
	clamp := func(v, hi Value) Value {
		return c.Node("Max", []Value{c.Node("Min", []Value{v, hi}), f(0)})
	}
	if clipBefore {
		wm1, hm1 := c.Node("Sub", []Value{imgW, f(1)}), c.Node("Sub", []Value{imgH, f(1)})
		x0, x1, y0, y1 = clamp(x0, wm1), clamp(x1, wm1), clamp(y0, hm1), clamp(y1, hm1)
	}
	bw := c.Node("Add", []Value{c.Node("Sub", []Value{x1, x0}), f(1)})
	bh := c.Node("Add", []Value{c.Node("Sub", []Value{y1, y0}), f(1)})
	minS := f(float64(ints["min_size"]))
	big := c.Node("And", []Value{
		c.Node("LessOrEqual", []Value{c.Node("Mul", []Value{minS, scaleW}), bw}),
		c.Node("LessOrEqual", []Value{c.Node("Mul", []Value{minS, scaleH}), bh}),
	})
	// scores [N, 2A, H, W]: foreground channels A..2A-1 -> [N, H*W*A]
	fg := c.Node("Slice", []Value{probs, c.Ints(A), c.Ints(2 * A), c.Ints(1)})
	score := c.Node("Reshape", []Value{c.Node("Transpose", []Value{fg}, onnxmodel.AttrInts("perm", 0, 2, 3, 1)), c.Ints(0, n)})
	score = c.Node("Mul", []Value{c.Cast(big, irmodel.F32), score})
	un := func(v Value) Value { return c.Node("Unsqueeze", []Value{v, c.Ints(2)}) }
	boxes := c.Node("Concat", []Value{un(x0), un(y0), un(x1), un(y1)}, ax(2)) // [N, n, 4]
	pre := min(n, ints["pre_nms_topn"])
	post := ints["post_nms_topn"]
	top := c.MultiNode("TopK", 2, []Value{score, c.Ints(pre)}, ax(1), onnxmodel.AttrInt("largest", 1), onnxmodel.AttrInt("sorted", 1))
	preScore := top[0]                                                                                                                  // [N, pre]
	preBoxes := c.Node("GatherND", []Value{boxes, c.Node("Unsqueeze", []Value{top[1], c.Ints(2)})}, onnxmodel.AttrInt("batch_dims", 1)) // [N, pre, 4]
	grown := c.Node("Add", []Value{preBoxes, c.Tensor(onnxmodel.Float32Tensor("", []int64{4}, []float32{0, 0, 1, 1}))})
	thr := min(max(floats["nms_thresh"], 0), 1)
	sel := c.Node("NonMaxSuppression", []Value{grown, c.Node("Unsqueeze", []Value{preScore, c.Ints(1)}), c.Int(post), f(thr)}) // [S, 3]
	bIdx := c.Node("Slice", []Value{sel, c.Ints(0), c.Ints(1), c.Ints(1)})
	jIdx := c.Node("Slice", []Value{sel, c.Ints(2), c.Ints(3), c.Ints(1)})
	bj := c.Node("Concat", []Value{bIdx, jIdx}, ax(1))
	roi := c.Node("GatherND", []Value{preBoxes, bj}) // [S, 4]
	roiScore := c.Node("GatherND", []Value{preScore, bj})
	imgWH := c.Node("Concat", []Value{c.Node("Unsqueeze", []Value{imgW, c.Ints(0)}), c.Node("Unsqueeze", []Value{imgH, c.Ints(0)})}, ax(0))
	imgXYXY := c.Node("Tile", []Value{imgWH, c.Ints(2)}) // [4]: w, h, w, h
	if clipAfter {
		roi = c.Node("Max", []Value{c.Node("Min", []Value{roi, imgXYXY}), f(0)})
	}
	if normalize {
		roi = c.Node("Div", []Value{roi, imgXYXY})
	}
	rows := c.Node("Concat", []Value{c.Cast(bIdx, irmodel.F32), roi}, ax(1)) // [S, 5]
	// Row of each proposal: image*post + its rank in the image.
	nImg := shapeDims(c, c.In(0), 0, 1) // [1]
	sN := shapeDims(c, sel, 0, 1)
	bFlat := c.Node("Reshape", []Value{bIdx, c.Ints(-1)})
	counts := c.Node("ScatterElements", []Value{c.Node("Expand", []Value{c.Int(0), nImg}), bFlat, c.Node("Expand", []Value{c.Int(1), sN})},
		ax(0), onnxmodel.AttrString("reduction", "add"))
	starts := c.Node("Sub", []Value{c.Node("CumSum", []Value{counts, c.Int(0)}), counts})
	pos := c.Node("Range", []Value{c.Int(0), c.Node("Reshape", []Value{sN, c.Ints()}), c.Int(1)})
	dest := c.Node("Add", []Value{c.Node("Mul", []Value{bFlat, c.Int(post)}), c.Node("Sub", []Value{pos, c.Node("Gather", []Value{starts, bFlat}, ax(0))})})
	total := c.Node("Mul", []Value{nImg, c.Ints(post)}) // [1]
	all := c.Node("Range", []Value{c.Int(0), c.Node("Reshape", []Value{total, c.Ints()}), c.Int(1)})
	rowImg := c.Node("Div", []Value{all, c.Int(post)})
	rowRank := c.Node("Sub", []Value{all, c.Node("Mul", []Value{rowImg, c.Int(post)})})
	marker := c.Node("Equal", []Value{rowRank, c.Node("Gather", []Value{counts, rowImg}, ax(0))})
	col0 := c.Node("Unsqueeze", []Value{c.Node("Where", []Value{marker, f(-1), f(0)}), c.Ints(1)})
	zeros4 := c.Node("Expand", []Value{f(0), c.Node("Concat", []Value{total, c.Ints(4)}, ax(0))})
	base := c.Node("Concat", []Value{col0, zeros4}, ax(1))
	destIdx := c.Node("Unsqueeze", []Value{dest, c.Ints(1)})
	out := c.Node("ScatterND", []Value{base, destIdx, rows})
	if t := c.OutType(0); t != "" && t != irmodel.F32 {
		out = c.Cast(out, t)
	}
	c.Set(0, out)
	if c.NumOutputs() > 1 {
		p := c.Node("ScatterND", []Value{c.Node("Expand", []Value{f(0), total}), destIdx, roiScore})
		if t := c.OutType(1); t != "" && t != irmodel.F32 {
			p = c.Cast(p, t)
		}
		c.Set(1, p)
	}
	return nil
}
