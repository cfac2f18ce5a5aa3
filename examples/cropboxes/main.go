// Command ovms-node-cropboxes is a custom node library for detection
// pipelines, after OVMS's model_zoo_intel_object_detection node: from an
// image and an SSD-style detection output it crops every box above a
// confidence threshold, resizes it (bilinear) to the target size and
// answers the crops as a batch to demultiply, with their coordinates,
// confidences and labels.
//
// Inputs: image FP32 [1,3,H,W] (NCHW; NHWC [1,H,W,3] with
// original_image_layout NHWC), detection FP32 [1,1,N,7] (image_id, label,
// confidence, x_min, y_min, x_max, y_max; coordinates in 0..1).
// Outputs: images FP32 [B,1,3,th,tw] (or [B,1,th,tw,3]), coordinates FP32
// [B,1,4], confidences FP32 [B,1,1], label_ids I32 [B,1,1].
// Params: target_image_width and target_image_height (required),
// original_image_width and original_image_height (optional: else any),
// original_image_layout and target_image_layout (NCHW or NHWC),
// confidence_threshold (0.5), max_output_batch (100).
package main

import (
	"context"
	"fmt"
	"math"

	"github.com/ovmsgo/ovms/plugins/customnode"
)

func main() { customnode.Serve("cropboxes", newCrop) }

type crop struct {
	tw, th, ow, oh  int
	inNHWC, outNHWC bool
	threshold       float32
	maxBatch        int
}

func newCrop(p customnode.Params) (customnode.Node, error) {
	c := &crop{}
	for _, v := range []struct {
		key    string
		dst    *int
		def    int
		anyDim bool // -1 (any size) allowed
	}{{"target_image_width", &c.tw, 0, false}, {"target_image_height", &c.th, 0, false},
		{"original_image_width", &c.ow, -1, true}, {"original_image_height", &c.oh, -1, true},
		{"max_output_batch", &c.maxBatch, 100, false}} {
		n, err := p.Int(v.key, v.def)
		if err != nil {
			return nil, err
		}
		if n <= 0 && !(v.anyDim && n == -1) {
			return nil, fmt.Errorf("param %s: want a positive integer, got %d", v.key, n)
		}
		*v.dst = n
	}
	thr, err := p.Float("confidence_threshold", 0.5)
	if err != nil {
		return nil, err
	}
	c.threshold = float32(thr)
	for key, dst := range map[string]*bool{"original_image_layout": &c.inNHWC, "target_image_layout": &c.outNHWC} {
		switch l := p.String(key, "NCHW"); l {
		case "NCHW", "NHWC":
			*dst = l == "NHWC"
		default:
			return nil, fmt.Errorf("param %s: %q is neither NCHW nor NHWC", key, l)
		}
	}
	return c, nil
}

func (c *crop) Inputs() []customnode.TensorInfo {
	image := customnode.Tensor("image", customnode.FP32, 1, 3, int64(c.oh), int64(c.ow))
	if c.inNHWC {
		image = customnode.Tensor("image", customnode.FP32, 1, int64(c.oh), int64(c.ow), 3)
	}
	return []customnode.TensorInfo{image, customnode.Tensor("detection", customnode.FP32, 1, 1, -1, 7)}
}

func (c *crop) Outputs() []customnode.TensorInfo {
	images := customnode.Tensor("images", customnode.FP32, -1, 1, 3, int64(c.th), int64(c.tw))
	if c.outNHWC {
		images = customnode.Tensor("images", customnode.FP32, -1, 1, int64(c.th), int64(c.tw), 3)
	}
	return []customnode.TensorInfo{images,
		customnode.Tensor("coordinates", customnode.FP32, -1, 1, 4),
		customnode.Tensor("confidences", customnode.FP32, -1, 1, 1),
		customnode.Tensor("label_ids", customnode.I32, -1, 1, 1)}
}

// box is one detection kept.
type box struct {
	label                int32
	conf, x0, y0, x1, y1 float32
}

func (c *crop) Execute(_ context.Context, call *customnode.Call) error {
	img, ishape, err := customnode.In[float32](call, "image")
	if err != nil {
		return err
	}
	det, dshape, err := customnode.In[float32](call, "detection")
	if err != nil {
		return err
	}
	if len(ishape) != 4 || len(dshape) != 4 || dshape[3] != 7 {
		return customnode.Errorf("image %v or detection %v: want [1,3,H,W] (or [1,H,W,3]) and [1,1,N,7]", ishape, dshape)
	}
	h, w := int(ishape[2]), int(ishape[3])
	if c.inNHWC {
		h, w = int(ishape[1]), int(ishape[2])
	}
	if h == 0 || w == 0 {
		return customnode.Errorf("image %v is empty", ishape)
	}
	var boxes []box
	for i := 0; i < int(dshape[2]) && len(boxes) < c.maxBatch; i++ {
		d := det[i*7 : i*7+7]
		if d[0] < 0 { // SSD ends its list with image_id -1
			break
		}
		if d[2] < c.threshold {
			continue
		}
		b := box{int32(d[1]), d[2], clamp(d[3]), clamp(d[4]), clamp(d[5]), clamp(d[6])}
		if b.x1 > b.x0 && b.y1 > b.y0 {
			boxes = append(boxes, b)
		}
	}
	n := int64(len(boxes))
	shape := []int64{n, 1, 3, int64(c.th), int64(c.tw)}
	if c.outNHWC {
		shape = []int64{n, 1, int64(c.th), int64(c.tw), 3}
	}
	images, err := customnode.Out[float32](call, "images", shape...)
	if err != nil {
		return err
	}
	coords, err := customnode.Out[float32](call, "coordinates", n, 1, 4)
	if err != nil {
		return err
	}
	confs, err := customnode.Out[float32](call, "confidences", n, 1, 1)
	if err != nil {
		return err
	}
	labels, err := customnode.Out[int32](call, "label_ids", n, 1, 1)
	if err != nil {
		return err
	}
	per := 3 * c.th * c.tw
	for i, b := range boxes {
		copy(coords[4*i:], []float32{b.x0, b.y0, b.x1, b.y1})
		confs[i], labels[i] = b.conf, b.label
		c.resize(img, h, w, b, images[i*per:(i+1)*per])
	}
	return nil
}

// resize samples box b of the image (h x w, 3 channels) bilinearly into
// dst, a th x tw crop in the target layout.
func (c *crop) resize(img []float32, h, w int, b box, dst []float32) {
	at := func(ch, y, x int) float32 {
		if c.inNHWC {
			return img[(y*w+x)*3+ch]
		}
		return img[(ch*h+y)*w+x]
	}
	bx, by := float64(b.x0)*float64(w), float64(b.y0)*float64(h)
	sx, sy := float64(b.x1-b.x0)*float64(w)/float64(c.tw), float64(b.y1-b.y0)*float64(h)/float64(c.th)
	for y := 0; y < c.th; y++ {
		fy := math.Min(math.Max(by+(float64(y)+0.5)*sy-0.5, 0), float64(h-1))
		y0 := int(fy)
		y1, wy := min(y0+1, h-1), float32(fy-float64(y0))
		for x := 0; x < c.tw; x++ {
			fx := math.Min(math.Max(bx+(float64(x)+0.5)*sx-0.5, 0), float64(w-1))
			x0 := int(fx)
			x1, wx := min(x0+1, w-1), float32(fx-float64(x0))
			for ch := 0; ch < 3; ch++ {
				top := at(ch, y0, x0)*(1-wx) + at(ch, y0, x1)*wx
				bot := at(ch, y1, x0)*(1-wx) + at(ch, y1, x1)*wx
				v := top*(1-wy) + bot*wy
				if c.outNHWC {
					dst[(y*c.tw+x)*3+ch] = v
				} else {
					dst[(ch*c.th+y)*c.tw+x] = v
				}
			}
		}
	}
}

func clamp(v float32) float32 { return min(max(v, 0), 1) }
