package irtoonnx

import (
	"slices"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Interpolate-1, -4 and -11 as ONNX Resize (opset 18+ form with the axes
// attribute), after a zero Pad for pads_begin/pads_end. Modes: nearest
// (every nearest_mode; "simple" as floor on upsampled and ceil on
// downsampled axes, which needs static scales), linear and linear_onnx
// (ONNX linear; linear's antialias as ONNX antialias when no axis is
// upsampled), cubic (cubic_coeff_a = cube_coeff), bilinear_pillow and
// bicubic_pillow (ONNX antialias with linear/cubic, half_pixel).
// Interpolate-1 is read as OpenVINO converts it to Interpolate-4. What
// Resize cannot express (area, antialias with an upsampled axis) is
// Unsupported.

func init() {
	register("Interpolate", opsets(1), "Pad, Resize",
		"as OpenVINO's conversion to Interpolate-4; mode area is not translated", interpolate1)
	register("Interpolate", opsets(4), "Pad, Resize", "axes must be constant; nearest_mode simple and antialias need static scales", func(c *Ctx) error {
		var axes []int64
		if c.NumInputs() > 3 {
			var err error
			if axes, err = c.ConstInts(3); err != nil {
				return err
			}
		}
		sizeIn, scaleIn := 1, 2
		return interpolate(c, interpAttrs(c), axes, sizeIn, scaleIn)
	})
	register("Interpolate", opsets(11), "Pad, Resize", "axes must be constant; nearest_mode simple and antialias need static scales", func(c *Ctx) error {
		var axes []int64
		if c.NumInputs() > 2 {
			var err error
			if axes, err = c.ConstInts(2); err != nil {
				return err
			}
		}
		a := interpAttrs(c)
		if a.shapeCalc == "sizes" {
			return interpolate(c, a, axes, 1, -1)
		}
		return interpolate(c, a, axes, -1, 1)
	})
}

// interpSpec is an Interpolate in Interpolate-4/11 terms.
type interpSpec struct {
	mode, shapeCalc, coord, nearest string
	antialias                       bool
	cubeCoeff                       float64
	padsBegin, padsEnd              []int64
	err                             error
}

// interpAttrs reads the Interpolate-4/11 attributes.
func interpAttrs(c *Ctx) interpSpec {
	a := interpSpec{
		mode: c.AttrString("mode", ""), shapeCalc: c.AttrString("shape_calculation_mode", "sizes"),
		coord: c.AttrString("coordinate_transformation_mode", "half_pixel"), nearest: c.AttrString("nearest_mode", "round_prefer_floor"),
	}
	var errs [4]error
	a.antialias, errs[0] = c.AttrBool("antialias", false)
	a.cubeCoeff, errs[1] = c.AttrFloat("cube_coeff", -0.75)
	a.padsBegin, errs[2] = c.AttrInts("pads_begin", nil)
	a.padsEnd, errs[3] = c.AttrInts("pads_end", nil)
	for _, e := range errs {
		if e != nil && a.err == nil {
			a.err = e
		}
	}
	return a
}

// interpolate1 maps Interpolate-1 to Interpolate-4 attributes the way
// OpenVINO's ConvertInterpolate1ToInterpolate4 does.
func interpolate1(c *Ctx) error {
	axes, err := c.AttrInts("axes", nil)
	if err != nil {
		return err
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	a := interpSpec{shapeCalc: "sizes", nearest: "simple", coord: "asymmetric", cubeCoeff: -0.75}
	if a.padsBegin, err = c.AttrInts("pads_begin", nil); err != nil {
		return err
	}
	if a.padsEnd, err = c.AttrInts("pads_end", nil); err != nil {
		return err
	}
	if a.antialias, err = c.AttrBool("antialias", false); err != nil {
		return err
	}
	align, err := c.AttrBool("align_corners", true)
	if err != nil {
		return err
	}
	switch m := c.AttrString("mode", ""); m {
	case "nearest", "cubic", "linear_onnx":
		a.mode = m
	case "linear":
		if r > 5 {
			return Unsupported("mode=linear for rank %d", r)
		}
		a.mode = "linear_onnx"
		if r == 5 {
			a.mode = "linear"
		}
	default:
		return Unsupported("mode=%q", m)
	}
	switch {
	case align:
		a.coord = "align_corners"
	case (a.mode == "linear" || a.mode == "linear_onnx") && !anyNonZero(a.padsBegin) && !anyNonZero(a.padsEnd) &&
		!(r == 4 && slices.Equal(axes, []int64{2, 3})):
		a.coord = "half_pixel"
	}
	return interpolate(c, a, axes, 1, -1)
}

// interpolate builds Pad + Resize. sizeIn and scaleIn are the inputs holding
// sizes and scales (-1: none); shapeCalc picks which one is used.
func interpolate(c *Ctx, a interpSpec, axes []int64, sizeIn, scaleIn int) error {
	if a.err != nil {
		return a.err
	}
	r, err := c.InRank(0)
	if err != nil {
		return err
	}
	if axes == nil {
		for i := range r {
			axes = append(axes, int64(i))
		}
	}
	for i, ax := range axes {
		if ax < 0 {
			ax += int64(r)
		}
		if ax < 0 || ax >= int64(r) {
			return Unsupported("axes %v for rank %d", axes, r)
		}
		axes[i] = ax
	}
	var attrs []*onnxpb.AttributeProto
	onnxMode := ""
	switch a.mode {
	case "nearest":
		onnxMode = "nearest"
	case "linear", "linear_onnx":
		onnxMode = "linear"
	case "cubic":
		onnxMode = "cubic"
	case "bilinear_pillow", "bicubic_pillow":
		onnxMode = "linear"
		if a.mode == "bicubic_pillow" {
			onnxMode = "cubic"
		}
		a.coord = "half_pixel"
		attrs = append(attrs, onnxmodel.AttrInt("antialias", 1))
	default:
		return Unsupported("mode=%q", a.mode)
	}
	if onnxMode == "cubic" {
		attrs = append(attrs, onnxmodel.AttrFloat("cubic_coeff_a", float32(a.cubeCoeff)))
	}
	switch a.coord {
	case "half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners", "tf_half_pixel_for_nn":
	default:
		return Unsupported("coordinate_transformation_mode=%q", a.coord)
	}
	if a.coord == "tf_half_pixel_for_nn" && onnxMode != "nearest" {
		return Unsupported("coordinate_transformation_mode=tf_half_pixel_for_nn with mode=%q", a.mode)
	}
	attrs = append(attrs, onnxmodel.AttrString("mode", onnxMode), onnxmodel.AttrString("coordinate_transformation_mode", a.coord))

	// Zero padding first; the padded shape is what Resize sees.
	x := c.In(0)
	in, _ := c.InShape(0)
	padded := make([]int64, r)
	pb, pe := interpPad(a.padsBegin, r), interpPad(a.padsEnd, r)
	for i := range r {
		padded[i] = in[i].Size()
		if padded[i] >= 0 {
			padded[i] += pb[i] + pe[i]
		}
	}
	if anyNonZero(pb) || anyNonZero(pe) {
		x = c.Node("Pad", []Value{x, c.Ints(append(append([]int64{}, pb...), pe...)...)})
	}

	// The scale of each axis, where known statically.
	useSizes := a.shapeCalc == "sizes"
	if a.shapeCalc != "sizes" && a.shapeCalc != "scales" {
		return Unsupported("shape_calculation_mode=%q", a.shapeCalc)
	}
	in1 := scaleIn
	if useSizes {
		in1 = sizeIn
	}
	if in1 < 0 || in1 >= c.NumInputs() {
		return Unsupported("shape_calculation_mode=%q without its input", a.shapeCalc)
	}
	var scales []float64 // nil when not static
	var sizeConst []int64
	if useSizes {
		if s, err := c.ConstInts(in1); err == nil {
			sizeConst = s
			scales = make([]float64, len(axes))
			for i, ax := range axes {
				if i >= len(s) || padded[ax] <= 0 {
					scales = nil
					break
				}
				scales[i] = float64(float32(s[i]) / float32(padded[ax]))
			}
		}
	} else if s, err := c.ConstFloats(in1); err == nil {
		scales = s
	}
	if scales != nil && len(scales) != len(axes) {
		return Unsupported("%d sizes or scales for %d axes", len(scales), len(axes))
	}

	antialias := a.antialias && (a.mode == "linear")
	if antialias {
		if scales == nil {
			return Unsupported("antialias with scales that are not static")
		}
		down, up := false, false
		for _, s := range scales {
			down, up = down || s < 1, up || s > 1
		}
		switch {
		case down && up:
			return Unsupported("antialias with both upsampled and downsampled axes")
		case down:
			if a.coord != "half_pixel" {
				return Unsupported("antialias with coordinate_transformation_mode=%q", a.coord)
			}
			attrs = append(attrs, onnxmodel.AttrInt("antialias", 1))
		}
	}

	// resize adds one Resize over the axes picked by idx.
	resize := func(x Value, idx []int, extra ...*onnxpb.AttributeProto) Value {
		sub := make([]int64, len(idx))
		for i, k := range idx {
			sub[i] = axes[k]
		}
		at := append(append(slices.Clone(attrs), extra...), onnxmodel.AttrInts("axes", sub...))
		all := len(idx) == len(axes)
		if useSizes {
			var sz Value
			switch {
			case sizeConst != nil:
				v := make([]int64, len(idx))
				for i, k := range idx {
					v[i] = sizeConst[k]
				}
				sz = c.Ints(v...)
			case all:
				sz = c.Cast(c.In(in1), irmodel.I64)
			}
			return c.Node("Resize", []Value{x, {}, {}, sz}, at...)
		}
		var sc Value
		if scales != nil {
			v := make([]float32, len(idx))
			for i, k := range idx {
				v[i] = float32(scales[k])
			}
			sc = c.Tensor(onnxmodel.Float32Tensor("", []int64{int64(len(v))}, v))
		} else {
			sc = c.Cast(c.In(in1), irmodel.F32)
		}
		return c.Node("Resize", []Value{x, {}, sc}, at...)
	}
	all := make([]int, len(axes))
	for i := range all {
		all[i] = i
	}
	if onnxMode != "nearest" {
		c.Set(0, resize(x, all))
		return nil
	}
	switch a.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
		c.Set(0, resize(x, all, onnxmodel.AttrString("nearest_mode", a.nearest)))
		return nil
	case "simple":
	default:
		return Unsupported("nearest_mode=%q", a.nearest)
	}
	// simple: ceil on downsampled axes, truncation (floor, as coordinates
	// below zero clamp to 0 either way) on the others.
	if scales == nil {
		return Unsupported("nearest_mode=simple with scales that are not static")
	}
	var down, other []int
	for i, s := range scales {
		if s < 1 {
			down = append(down, i)
		} else {
			other = append(other, i)
		}
	}
	if len(other) > 0 {
		x = resize(x, other, onnxmodel.AttrString("nearest_mode", "floor"))
	}
	if len(down) > 0 {
		x = resize(x, down, onnxmodel.AttrString("nearest_mode", "ceil"))
	}
	c.Set(0, x)
	return nil
}

// interpPad fits pads to rank r as the spec's correct_pad does: shorter
// lists are padded with zeros, longer ones cut.
func interpPad(p []int64, r int) []int64 {
	out := make([]int64, r)
	copy(out, p)
	return out
}
