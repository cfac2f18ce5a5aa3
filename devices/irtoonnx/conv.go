package irtoonnx

import (
	"strings"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Convolutions (1-D, 2-D and 3-D): Convolution and GroupConvolution as ONNX
// Conv, ConvolutionBackpropData and GroupConvolutionBackpropData as ONNX
// ConvTranspose. Group weights [GROUPS, C_OUT/G, C_IN/G, k...] are reshaped
// to ONNX's [C_OUT, C_IN/G, k...]. Backprop padding follows the spec: pads
// are explicit, zero for any auto_pad without output_shape, and computed by
// the spec's formula (then given to ONNX explicitly) when output_shape is
// an input.

func init() {
	register("Convolution", opsets(1), "Conv", "", func(c *Ctx) error {
		return convForward(c, false)
	})
	register("GroupConvolution", opsets(1), "Reshape (weights), Conv (group)", "the group count must be static", func(c *Ctx) error {
		return convForward(c, true)
	})
	register("ConvolutionBackpropData", opsets(1), "ConvTranspose (Pad when output_shape needs negative pads)",
		"output_shape must be a constant and the input's spatial dims static", func(c *Ctx) error {
			return convBackprop(c, false)
		})
	register("GroupConvolutionBackpropData", opsets(1), "Reshape (weights), ConvTranspose (group)",
		"the group count must be static; output_shape as for ConvolutionBackpropData", func(c *Ctx) error {
			return convBackprop(c, true)
		})
}

// convAttrs are the window attributes shared by convolutions and pooling.
type convAttrs struct {
	strides, dilations, padsBegin, padsEnd []int64
	// autoPad is the ONNX auto_pad: NOTSET (explicit), VALID, SAME_UPPER,
	// SAME_LOWER.
	autoPad string
}

// convReadAttrs reads strides, dilations, pads_begin, pads_end and auto_pad
// for n spatial axes.
func convReadAttrs(c *Ctx, n int) (convAttrs, error) {
	var a convAttrs
	ones, zeros := make([]int64, n), make([]int64, n)
	for i := range ones {
		ones[i] = 1
	}
	var err error
	for _, f := range []struct {
		name string
		def  []int64
		dst  *[]int64
	}{{"strides", ones, &a.strides}, {"dilations", ones, &a.dilations}, {"pads_begin", zeros, &a.padsBegin}, {"pads_end", zeros, &a.padsEnd}} {
		if *f.dst, err = c.AttrInts(f.name, f.def); err != nil {
			return a, err
		}
		if len(*f.dst) != n {
			return a, Unsupported("%s=%v for %d spatial axes", f.name, *f.dst, n)
		}
	}
	switch p := strings.ToLower(c.AttrString("auto_pad", "explicit")); p {
	case "explicit", "notset", "":
		a.autoPad = "NOTSET"
	case "valid", "same_upper", "same_lower":
		a.autoPad = strings.ToUpper(p)
	default:
		return a, Unsupported("auto_pad=%q", p)
	}
	return a, nil
}

// resolveSame turns same_upper/same_lower into explicit pads (the spec's:
// output ceil(X/s), odd padding at the end for same_upper) when the input's
// spatial dims are static, as ONNX Runtime refuses SAME with dilations;
// kernel are the window sizes (-1: unknown).
func (a *convAttrs) resolveSame(c *Ctx, kernel []int64) error {
	if a.autoPad != "SAME_UPPER" && a.autoPad != "SAME_LOWER" {
		return nil
	}
	in, _ := c.InShape(0)
	n := len(a.strides)
	pb, pe := make([]int64, n), make([]int64, n)
	for i := range n {
		if !in[i+2].Static() || kernel[i] < 0 {
			if anyNonOne(a.dilations) {
				return Unsupported("auto_pad=%s with dilations and dynamic spatial dims", strings.ToLower(a.autoPad))
			}
			return nil
		}
		x := in[i+2].Size()
		out := (x + a.strides[i] - 1) / a.strides[i]
		total := max((out-1)*a.strides[i]+(kernel[i]-1)*a.dilations[i]+1-x, 0)
		if a.autoPad == "SAME_UPPER" {
			pb[i], pe[i] = total/2, total-total/2
		} else {
			pb[i], pe[i] = total-total/2, total/2
		}
	}
	a.padsBegin, a.padsEnd, a.autoPad = pb, pe, "NOTSET"
	return nil
}

func anyNonOne(v []int64) bool {
	for _, x := range v {
		if x != 1 {
			return true
		}
	}
	return false
}

// onnx returns the ONNX strides, dilations (when withDilations), auto_pad
// and pads attributes.
func (a convAttrs) onnx(withDilations bool) []*onnxpb.AttributeProto {
	attrs := []*onnxpb.AttributeProto{onnxmodel.AttrInts("strides", a.strides...)}
	if withDilations {
		attrs = append(attrs, onnxmodel.AttrInts("dilations", a.dilations...))
	}
	if a.autoPad == "NOTSET" {
		attrs = append(attrs, onnxmodel.AttrInts("pads", append(append([]int64{}, a.padsBegin...), a.padsEnd...)...))
	} else {
		attrs = append(attrs, onnxmodel.AttrString("auto_pad", a.autoPad))
	}
	return attrs
}

// convSpatial is the number of spatial axes of input 0 (rank 3, 4 or 5).
func convSpatial(c *Ctx) (int, error) {
	r, err := c.InRank(0)
	if err != nil {
		return 0, err
	}
	if r < 3 || r > 5 {
		return 0, Unsupported("input of rank %d", r)
	}
	return r - 2, nil
}

// convGroupWeights merges the first two axes of grouped weights
// [G, A, B, k...] into [G*A, B, k...] and returns them with G.
func convGroupWeights(c *Ctx) (Value, int64, error) {
	s, ok := c.InShape(1)
	if !ok || len(s) < 3 || !s[0].Static() {
		return Value{}, 0, Unsupported("grouped weights need a static group count (shape %v)", s)
	}
	g := s[0].Size()
	var shape Value
	if s.Static() {
		dims := append([]int64{s[0].Size() * s[1].Size()}, s.Sizes()[2:]...)
		shape = c.Ints(dims...)
	} else {
		tail := c.Node("Shape", []Value{c.In(1)}, onnxmodel.AttrInt("start", 2))
		shape = c.Node("Concat", []Value{c.Ints(-1), tail}, onnxmodel.AttrInt("axis", 0))
	}
	return c.Node("Reshape", []Value{c.In(1), shape}), g, nil
}

// convForward translates Convolution and GroupConvolution.
func convForward(c *Ctx, grouped bool) error {
	n, err := convSpatial(c)
	if err != nil {
		return err
	}
	a, err := convReadAttrs(c, n)
	if err != nil {
		return err
	}
	ws, _ := c.InShape(1)
	kernel := make([]int64, n)
	for i := range n {
		kernel[i] = -1
		if len(ws) >= n {
			kernel[i] = ws[len(ws)-n+i].Size()
		}
	}
	if err := a.resolveSame(c, kernel); err != nil {
		return err
	}
	w, attrs := c.In(1), a.onnx(true)
	if grouped {
		var g int64
		if w, g, err = convGroupWeights(c); err != nil {
			return err
		}
		attrs = append(attrs, onnxmodel.AttrInt("group", g))
	}
	c.Set(0, c.Node("Conv", []Value{c.In(0), w}, attrs...))
	return nil
}

// convBackprop translates ConvolutionBackpropData and
// GroupConvolutionBackpropData.
func convBackprop(c *Ctx, grouped bool) error {
	n, err := convSpatial(c)
	if err != nil {
		return err
	}
	a, err := convReadAttrs(c, n)
	if err != nil {
		return err
	}
	outPad, err := c.AttrInts("output_padding", make([]int64, n))
	if err != nil {
		return err
	}
	if len(outPad) != n {
		return Unsupported("output_padding=%v for %d spatial axes", outPad, n)
	}
	pb, pe := a.padsBegin, a.padsEnd
	if a.autoPad != "NOTSET" { // spec: any auto_pad zeroes the pads
		pb, pe = make([]int64, n), make([]int64, n)
	}
	// after pads the ConvTranspose result with zeros (negative spec pads).
	var extraBegin, extraEnd []int64
	if c.NumInputs() > 2 {
		want, err := c.ConstInts(2)
		if err != nil {
			return Unsupported("output_shape must be a constant")
		}
		in, _ := c.InShape(0)
		ws, ok := c.InShape(1)
		if len(want) != n || !ok || len(ws) < n+2 {
			return Unsupported("output_shape %v for %d spatial axes", want, n)
		}
		pb, pe = make([]int64, n), make([]int64, n)
		extraBegin, extraEnd = make([]int64, n), make([]int64, n)
		for i := range n {
			x, k := in[i+2], ws[len(ws)-n+i]
			if !x.Static() || !k.Static() {
				return Unsupported("output_shape with dynamic spatial dims")
			}
			total := a.strides[i]*(x.Size()-1) + (k.Size()-1)*a.dilations[i] + 1 - want[i] + outPad[i]
			if a.autoPad != "SAME_UPPER" {
				pb[i] = floorDivInt(total, 2)
				pe[i] = total - pb[i]
			} else {
				pe[i] = floorDivInt(total, 2)
				pb[i] = total - pe[i]
			}
			if pb[i] < 0 {
				extraBegin[i], pb[i] = -pb[i], 0
			}
			if pe[i] < 0 {
				extraEnd[i], pe[i] = -pe[i], 0
			}
		}
	}
	w := c.In(1)
	attrs := []*onnxpb.AttributeProto{
		onnxmodel.AttrInts("strides", a.strides...), onnxmodel.AttrInts("dilations", a.dilations...),
		onnxmodel.AttrInts("pads", append(append([]int64{}, pb...), pe...)...),
		onnxmodel.AttrInts("output_padding", outPad...),
	}
	if grouped {
		var g int64
		if w, g, err = convGroupWeights(c); err != nil {
			return err
		}
		attrs = append(attrs, onnxmodel.AttrInt("group", g))
	}
	y := c.Node("ConvTranspose", []Value{c.In(0), w}, attrs...)
	if extraBegin != nil && (anyNonZero(extraBegin) || anyNonZero(extraEnd)) {
		pads := append(append(append([]int64{0, 0}, extraBegin...), 0, 0), extraEnd...)
		y = c.Node("Pad", []Value{y, c.Ints(pads...)})
	}
	c.Set(0, y)
	return nil
}

// floorDivInt is a/b rounded toward negative infinity.
func floorDivInt(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func anyNonZero(v []int64) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}
