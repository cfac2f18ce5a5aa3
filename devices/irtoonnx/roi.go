package irtoonnx

import (
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// ROIAlign-3/-9 and ROIPooling-1.
//
// ROIAlign with mode avg is ONNX RoiAlign: aligned_mode asymmetric (v3's
// only mode) maps box coordinates as x*spatial_scale with boxes at least
// 1x1, which is ONNX's output_half_pixel; half_pixel_for_nn is
// x*spatial_scale - 0.5 without the 1x1 floor, ONNX's half_pixel; and
// half_pixel, (x + 0.5)*spatial_scale - 0.5, is ONNX's half_pixel on boxes
// shifted by 0.5 first. Mode max is not ONNX's (ONNX Runtime's max takes
// the largest weighted corner of each sample, not the largest interpolated
// sample): it is RoiAlign avg on a grid sampling_ratio times finer with one
// sample per cell, MaxPool over each bin's samples, and Max with 0;
// sampling_ratio 0 (adaptive) with max is not translated.
//
// ROIPooling with method max is ONNX MaxRoiPool (both are Caffe's: box
// corners rounded, bins floored and ceiled); method bilinear is not
// translated.

func init() {
	register("ROIAlign", opsets(3, 9), "RoiAlign (avg); RoiAlign, MaxPool, Max (max)", "mode max needs sampling_ratio > 0", roiAlignOp)
	register("ROIPooling", opsets(1), "MaxRoiPool", "method bilinear is not translated", roiPoolingOp)
}

func roiAlignOp(c *Ctx) error {
	mode := c.AttrString("mode", "avg")
	if mode != "avg" && mode != "max" {
		return Unsupported("mode=%q", mode)
	}
	ph, pw, scale, err := roiPooled(c)
	if err != nil {
		return err
	}
	sr, err := c.AttrInt("sampling_ratio", 0)
	if err != nil {
		return err
	}
	rois := c.In(1)
	ctm := "output_half_pixel"
	aligned := "asymmetric"
	if c.L.Version == "opset9" {
		aligned = c.AttrString("aligned_mode", "asymmetric")
	}
	switch aligned {
	case "asymmetric":
	case "half_pixel_for_nn":
		ctm = "half_pixel"
	case "half_pixel":
		ctm = "half_pixel"
		rois = c.Node("Add", []Value{rois, c.Scalar(c.InType(1), 0.5)})
	default:
		return Unsupported("aligned_mode=%q", aligned)
	}
	if c.InType(1) != c.InType(0) {
		rois = c.Cast(rois, c.InType(0))
	}
	idx := c.In(2)
	if c.InType(2) != irmodel.I64 {
		idx = c.Cast(idx, irmodel.I64)
	}
	if mode == "avg" {
		c.Set(0, c.Node("RoiAlign", []Value{c.In(0), rois, idx},
			onnxmodel.AttrString("coordinate_transformation_mode", ctm), onnxmodel.AttrString("mode", "avg"),
			onnxmodel.AttrInt("output_height", ph), onnxmodel.AttrInt("output_width", pw),
			onnxmodel.AttrInt("sampling_ratio", sr), onnxmodel.AttrFloat("spatial_scale", float32(scale))))
		return nil
	}
	// max: every sample on its own (an sr x sr finer grid with one sample
	// per cell puts the samples where OpenVINO's bins have them), the
	// largest of each bin's sr x sr, and at least 0 as OpenVINO starts
	// its maximum from 0.
	if sr <= 0 {
		return Unsupported("mode=\"max\" with sampling_ratio=%d (the adaptive sampling differs per box)", sr)
	}
	samples := c.Node("RoiAlign", []Value{c.In(0), rois, idx},
		onnxmodel.AttrString("coordinate_transformation_mode", ctm), onnxmodel.AttrString("mode", "avg"),
		onnxmodel.AttrInt("output_height", ph*sr), onnxmodel.AttrInt("output_width", pw*sr),
		onnxmodel.AttrInt("sampling_ratio", 1), onnxmodel.AttrFloat("spatial_scale", float32(scale)))
	pooled := c.Node("MaxPool", []Value{samples}, onnxmodel.AttrInts("kernel_shape", sr, sr), onnxmodel.AttrInts("strides", sr, sr))
	c.Set(0, c.Node("Max", []Value{pooled, c.Scalar(c.InType(0), 0)}))
	return nil
}

func roiPoolingOp(c *Ctx) error {
	if m := c.AttrString("method", "max"); m != "max" {
		return Unsupported("method=%q", m)
	}
	ph, pw, scale, err := roiPooled(c)
	if err != nil {
		return err
	}
	rois := c.In(1)
	if c.InType(1) != c.InType(0) {
		rois = c.Cast(rois, c.InType(0))
	}
	c.Set(0, c.Node("MaxRoiPool", []Value{c.In(0), rois},
		onnxmodel.AttrInts("pooled_shape", ph, pw), onnxmodel.AttrFloat("spatial_scale", float32(scale))))
	return nil
}

// roiPooled reads the pooled output size and the spatial scale that
// ROIAlign and ROIPooling share.
func roiPooled(c *Ctx) (ph, pw int64, scale float64, err error) {
	if ph, err = c.AttrInt("pooled_h", 1); err != nil {
		return
	}
	if pw, err = c.AttrInt("pooled_w", 1); err != nil {
		return
	}
	scale, err = c.AttrFloat("spatial_scale", 1)
	return
}
