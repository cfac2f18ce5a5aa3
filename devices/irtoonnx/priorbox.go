package irtoonnx

import (
	"math"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// PriorBox-1/-8 and PriorBoxClustered-1 are folded at translate time: their
// two inputs (the feature map's [height, width] and the image's) are
// constants in any model with static spatial sizes, usually reached through
// ShapeOf of a static tensor and a slice of it. The priors are computed in
// Go from the spec's formulas and emitted as one constant [2, 4*H*W*P]:
// row 0 the boxes (xmin, ymin, xmax, ymax normalised by the image size),
// row 1 the variances. Dynamic sizes are not translated.

func init() {
	register("PriorBox", opsets(1, 8), "constant (folded)",
		"folded when output_size and image_size are known at translate time; the IR's declared output size must match the priors computed",
		priorBoxOp)
	register("PriorBoxClustered", opsets(1), "constant (folded)",
		"folded when output_size and image_size are known at translate time", priorBoxClusteredOp)
}

// priorBoxAttrs are the PriorBox attributes that shape the priors.
type priorBoxAttrs struct {
	minSize, maxSize, aspectRatio, variance []float64
	fixedSize, fixedRatio, density          []float64
	flip, clip, minMaxOrder, scaleAll       bool
	step, offset                            float64
}

func priorBoxOp(c *Ctx) error {
	var a priorBoxAttrs
	var err error
	if a.scaleAll, err = c.AttrBool("scale_all_sizes", true); err != nil {
		return err
	}
	if a.fixedSize, err = c.AttrFloats("fixed_size", nil); err != nil {
		return err
	}
	if a.fixedRatio, err = c.AttrFloats("fixed_ratio", nil); err != nil {
		return err
	}
	if a.density, err = c.AttrFloats("density", nil); err != nil {
		return err
	}
	if a.minSize, err = c.AttrFloats("min_size", nil); err != nil {
		return err
	}
	if a.maxSize, err = c.AttrFloats("max_size", nil); err != nil {
		return err
	}
	if a.aspectRatio, err = c.AttrFloats("aspect_ratio", nil); err != nil {
		return err
	}
	if a.variance, err = c.AttrFloats("variance", nil); err != nil {
		return err
	}
	if a.flip, err = c.AttrBool("flip", false); err != nil {
		return err
	}
	if a.clip, err = c.AttrBool("clip", false); err != nil {
		return err
	}
	if a.minMaxOrder, err = c.AttrBool("min_max_aspect_ratios_order", true); err != nil {
		return err
	}
	if a.step, err = c.AttrFloat("step", 0); err != nil {
		return err
	}
	if a.offset, err = c.AttrFloat("offset", 0); err != nil {
		return err
	}
	if n := len(a.variance); n != 0 && n != 1 && n != 4 {
		return Unsupported("variance with %d values", n)
	}
	if len(a.fixedSize) > 0 && len(a.density) < len(a.fixedSize) &&
		(len(a.density) > 0 || len(a.fixedRatio) > 0 || len(priorBoxAspectRatios(a.aspectRatio, a.flip)) > 1) {
		return Unsupported("density=%q for fixed_size=%q", c.AttrString("density", ""), c.AttrString("fixed_size", ""))
	}
	layer, img, err := priorSizes(c)
	if err != nil {
		return err
	}
	out := priorBoxCompute(a, layer[0], layer[1], img[0], img[1])
	return priorEmit(c, out)
}

// priorBoxAspectRatios is 1 followed by each distinct aspect ratio (and its
// inverse with flip); duplicates within 1e-6 are dropped.
func priorBoxAspectRatios(ars []float64, flip bool) []float32 {
	out := []float32{1}
	for _, a := range ars {
		ar := float64(float32(a)) // OpenVINO holds the attribute as float32
		dup := false
		for _, e := range out {
			if math.Abs(ar-float64(e)) < 1e-6 {
				dup = true
			}
		}
		if dup {
			continue
		}
		out = append(out, float32(ar))
		if flip {
			out = append(out, float32(1/ar))
		}
	}
	return out
}

// priorBoxCompute computes PriorBox's output for an H x W feature map over
// an IH x IW image, in float32 as OpenVINO does.
func priorBoxCompute(a priorBoxAttrs, H, W, IH, IW int64) []float32 {
	ars := priorBoxAspectRatios(a.aspectRatio, a.flip)
	var boxes []float32
	iw, ih := 1/float32(IW), 1/float32(IH)
	add := func(cx, cy, bw, bh float32) {
		boxes = append(boxes, (cx-bw)*iw, (cy-bh)*ih, (cx+bw)*iw, (cy+bh)*ih)
	}
	// addClipped is the fixed_size boxes' form: the low corner clipped at
	// 0, the high one at 1.
	addClipped := func(cx, cy, bw, bh float32) {
		boxes = append(boxes, max((cx-bw)*iw, 0), max((cy-bh)*ih, 0), min((cx+bw)*iw, 1), min((cy+bh)*ih, 1))
	}
	step := float32(a.step)
	minSize := make([]float32, len(a.minSize))
	for i, m := range a.minSize {
		minSize[i] = float32(m)
	}
	if !a.scaleAll { // MXNet's PriorBox: sizes and step relative to the image height
		if step == -1 {
			step = float32(IH) / float32(H)
		} else {
			step *= float32(IH)
		}
		for i := range minSize {
			minSize[i] *= float32(IH)
		}
	}
	stepX, stepY := step, step
	if step == 0 {
		stepX, stepY = float32(IW)/float32(W), float32(IH)/float32(H)
	}
	for h := range H {
		for w := range W {
			var cx, cy float32
			if step == 0 {
				cx, cy = (float32(w)+0.5)*stepX, (float32(h)+0.5)*stepY
			} else {
				cx, cy = (float32(a.offset)+float32(w))*step, (float32(a.offset)+float32(h))*step
			}
			for s, fs := range a.fixedSize {
				fsInt := float32(int64(fs)) // OpenVINO truncates the size here
				fsHalf := float32(int64(fs) / 2)
				grid := func(bw, bh float32) {
					d := int64(a.density[s])
					shift := int64(float32(fs) / float32(d))
					for r := range d {
						for col := range d {
							addClipped(cx-fsHalf+float32(shift)/2+float32(col*shift), cy-fsHalf+float32(shift)/2+float32(r*shift), bw, bh)
						}
					}
				}
				if len(a.fixedRatio) > 0 {
					for _, ar := range a.fixedRatio {
						r := float32(math.Sqrt(float64(float32(ar))))
						grid(float32(fs)*0.5*r, float32(fs)*0.5/r)
					}
					continue
				}
				if len(a.density) > 0 {
					grid(fsInt*0.5, fsInt*0.5)
				}
				for _, ar := range ars {
					if math.Abs(float64(ar)-1) < 1e-6 {
						continue
					}
					r := float32(math.Sqrt(float64(ar)))
					grid(float32(fs)*0.5*r, float32(fs)*0.5/r)
				}
			}
			for i, m := range minSize {
				add(cx, cy, m*0.5, m*0.5)
				sizeIdx := i // the aspect-ratio boxes: each min_size, or (MXNet) min_size[0] after the last
				if !a.scaleAll {
					sizeIdx = 0
				}
				maxBox := func() {
					if i < len(a.maxSize) {
						s := float32(math.Sqrt(float64(m*float32(a.maxSize[i])))) * 0.5
						add(cx, cy, s, s)
					}
				}
				arBoxes := func() {
					if !a.scaleAll && i != len(minSize)-1 {
						return
					}
					ms := minSize[sizeIdx]
					for _, ar := range ars {
						if math.Abs(float64(ar)-1) < 1e-6 {
							continue
						}
						r := float32(math.Sqrt(float64(ar)))
						add(cx, cy, ms*0.5*r, ms*0.5/r)
					}
				}
				if a.minMaxOrder {
					maxBox()
					arBoxes()
				} else {
					arBoxes()
					maxBox()
				}
			}
		}
	}
	if a.clip {
		for i, v := range boxes {
			boxes[i] = min(max(v, 0), 1)
		}
	}
	return append(boxes, priorVariances(a.variance, len(boxes))...)
}

// priorVariances is the second row: one variance repeated, four repeated
// per box, or 0.1 when none is given.
func priorVariances(v []float64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		switch len(v) {
		case 0:
			out[i] = 0.1
		case 1:
			out[i] = float32(v[0])
		default:
			out[i] = float32(v[i%4])
		}
	}
	return out
}

// priorClusteredAttrs are PriorBoxClustered's attributes.
type priorClusteredAttrs struct {
	width, height, variance    []float64
	clip                       bool
	step, stepW, stepH, offset float64
}

func priorBoxClusteredOp(c *Ctx) error {
	var a priorClusteredAttrs
	var err error
	if a.width, err = c.AttrFloats("width", []float64{1}); err != nil {
		return err
	}
	if a.height, err = c.AttrFloats("height", []float64{1}); err != nil {
		return err
	}
	if len(a.width) != len(a.height) {
		return Unsupported("width and height of different lengths (%d, %d)", len(a.width), len(a.height))
	}
	if a.variance, err = c.AttrFloats("variance", nil); err != nil {
		return err
	}
	if n := len(a.variance); n != 0 && n != 1 && n != 4 {
		return Unsupported("variance with %d values", n)
	}
	if a.clip, err = c.AttrBool("clip", true); err != nil {
		return err
	}
	if a.step, err = c.AttrFloat("step", 0); err != nil {
		return err
	}
	if a.stepW, err = c.AttrFloat("step_w", 0); err != nil {
		return err
	}
	if a.stepH, err = c.AttrFloat("step_h", 0); err != nil {
		return err
	}
	if a.offset, err = c.AttrFloat("offset", 0); err != nil {
		return err
	}
	if c.NumInputs() < 2 {
		return Unsupported("PriorBoxClustered without image_size")
	}
	layer, img, err := priorSizes(c)
	if err != nil {
		return err
	}
	return priorEmit(c, priorClusteredCompute(a, layer[0], layer[1], img[0], img[1]))
}

// priorClusteredCompute computes PriorBoxClustered's output, in float32.
func priorClusteredCompute(a priorClusteredAttrs, H, W, IH, IW int64) []float32 {
	stepW, stepH := float32(a.stepW), float32(a.stepH)
	if stepW == 0 && stepH == 0 {
		stepW, stepH = float32(a.step), float32(a.step)
	}
	if stepW == 0 && stepH == 0 {
		stepW, stepH = float32(IW)/float32(W), float32(IH)/float32(H)
	}
	var boxes []float32
	for h := range H {
		for w := range W {
			cx := (float32(w) + float32(a.offset)) * stepW
			cy := (float32(h) + float32(a.offset)) * stepH
			for s := range a.width {
				bw, bh := float32(a.width[s]), float32(a.height[s])
				b := []float32{(cx - bw/2) / float32(IW), (cy - bh/2) / float32(IH), (cx + bw/2) / float32(IW), (cy + bh/2) / float32(IH)}
				if a.clip {
					for i := range b {
						b[i] = min(max(b[i], 0), 1)
					}
				}
				boxes = append(boxes, b...)
			}
		}
	}
	return append(boxes, priorVariances(a.variance, len(boxes))...)
}

// priorSizes reads the [height, width] pairs of inputs 0 and 1 at
// translate time.
func priorSizes(c *Ctx) (layer, img []int64, err error) {
	for i, dst := range []*[]int64{&layer, &img} {
		v, ok := foldInts(c.InPort(i), 0)
		if !ok || len(v) != 2 || v[0] == foldUnknown || v[1] == foldUnknown {
			return nil, nil, Unsupported("input %d (the spatial sizes) is not known at translate time: dynamic sizes are not translated", i)
		}
		if v[0] <= 0 || v[1] <= 0 {
			return nil, nil, Unsupported("input %d holds sizes %v", i, v)
		}
		*dst = v
	}
	return layer, img, nil
}

// priorEmit binds output 0 to the constant [2, n/2] holding vals, in the
// output's declared element type.
func priorEmit(c *Ctx, vals []float32) error {
	dims := []int64{2, int64(len(vals) / 2)}
	if s := c.OutPort(0).Shape; len(s) == 2 && s[1].Static() && s[1].Size() != dims[1] {
		return Unsupported("the IR declares %d prior values per row, the attributes give %d", s[1].Size(), dims[1])
	}
	v := c.Tensor(onnxmodel.Float32Tensor("", dims, vals))
	if t := c.OutType(0); t != "" && t != irmodel.F32 {
		v = c.Cast(v, t)
	}
	c.Set(0, v)
	return nil
}

// foldUnknown marks a value foldInts cannot know (a dynamic dimension
// read by ShapeOf); slices and gathers that leave it out still fold.
const foldUnknown = math.MinInt64

// foldInts evaluates the integer value of port p at translate time when it
// is a constant or computed from constants and static shapes by ShapeOf,
// Convert, StridedSlice, Slice, Gather, Concat, Squeeze and Unsqueeze
// (the chains IR uses to feed PriorBox). ok is false otherwise; dynamic
// dimensions read by ShapeOf are foldUnknown in the result.
func foldInts(p *irmodel.Port, depth int) ([]int64, bool) {
	if p == nil || depth > 16 {
		return nil, false
	}
	l := p.Layer
	in := func(i int) ([]int64, bool) {
		if i >= len(l.Inputs) {
			return nil, false
		}
		return foldInts(l.Inputs[i].Source, depth+1)
	}
	switch l.Type {
	case "Const":
		v, err := constInts(l)
		return v, err == nil
	case "ShapeOf":
		src := l.Inputs[0].Source
		if src.DynamicRank {
			return nil, false
		}
		out := src.Shape.Sizes()
		for i, d := range out {
			if d < 0 {
				out[i] = foldUnknown
			}
		}
		return out, true
	case "Convert", "Squeeze", "Unsqueeze", "Reshape":
		return in(0)
	case "Concat":
		var out []int64
		for i := range l.Inputs {
			v, ok := in(i)
			if !ok {
				return nil, false
			}
			out = append(out, v...)
		}
		return out, true
	case "Gather":
		data, ok1 := in(0)
		idx, ok2 := in(1)
		if !ok1 || !ok2 {
			return nil, false
		}
		var out []int64
		for _, i := range idx {
			if i < 0 {
				i += int64(len(data))
			}
			if i < 0 || i >= int64(len(data)) {
				return nil, false
			}
			out = append(out, data[i])
		}
		return out, true
	case "StridedSlice", "Slice":
		data, ok := in(0)
		begin, ok1 := in(1)
		end, ok2 := in(2)
		if !ok || !ok1 || !ok2 || len(begin) != 1 || len(end) != 1 {
			return nil, false
		}
		stride := []int64{1}
		if len(l.Inputs) > 3 {
			if stride, ok = in(3); !ok || len(stride) != 1 || stride[0] != 1 {
				return nil, false
			}
		}
		if l.Type == "Slice" && len(l.Inputs) > 4 {
			if axes, ok := in(4); !ok || len(axes) != 1 || (axes[0] != 0 && axes[0] != -1) {
				return nil, false
			}
		}
		b, e := begin[0], end[0]
		if l.Type == "StridedSlice" {
			for _, m := range []string{"new_axis_mask", "shrink_axis_mask", "ellipsis_mask"} {
				if v := l.Attrs[m]; v != "" && v != "0" {
					return nil, false
				}
			}
			if l.Attrs["begin_mask"] == "1" {
				b = 0
			}
			if l.Attrs["end_mask"] == "1" {
				e = math.MaxInt64
			}
		}
		n := int64(len(data))
		clampIdx := func(i int64) int64 {
			if i < 0 {
				i += n
			}
			return min(max(i, 0), n)
		}
		b, e = clampIdx(b), clampIdx(e)
		if e < b {
			return nil, false
		}
		return data[b:e], true
	}
	return nil, false
}
