package imagein

import (
	"fmt"
	"math"

	"github.com/ovmsgo/ovms/core/apierr"
)

// fail returns an error with OVMS's message for c followed by details
// (OVMS's tensor_conversion.cpp returns these codes bare; the details say
// which input and image, and what was expected).
func fail(c apierr.Code, format string, args ...any) *apierr.Error {
	return apierr.Newf(c, format, args...)
}

// Decode decodes images (one per batch element), resizes them to the
// target's H and W and returns the tensor bytes (little-endian, row-major
// NHWC) and its shape. The checks and their order are OVMS's (see the
// package comment); every error is an *apierr.Error.
func Decode(images [][]byte, t Target) (data []byte, shape []int64, err error) {
	// validateTensor (tensor_conversion.cpp / the frontends): rank 4; the
	// N...HWC layout check (UNSUPPORTED_LAYOUT) is the caller's.
	if len(t.Shape) != 4 {
		return nil, nil, fail(apierr.InvalidShape, "binary inputs need a rank 4 NHWC shape, got rank %d; input name: %s", len(t.Shape), t.Name)
	}
	var dims [4]dim
	resizable := true // isResizeSupported (tensor_conversion_common.cpp): no -1 dimension
	for i := range dims {
		dims[i] = t.dimOf(i)
		if dims[i].isAny() {
			resizable = false
		}
	}
	// checkBinaryBatchSizeMismatch (predict_request_validation_utils.cpp)
	// with its details, then checkBatchSizeMismatch's batchSize == 0
	// (tensor_conversion_common.cpp).
	n := int64(len(images))
	if !dims[0].match(n) {
		return nil, nil, apierr.Newf(apierr.InvalidBatchSize, "Expected: %s; Actual: %d; input name: %s", dims[0], n, t.Name)
	}
	if n == 0 {
		return nil, nil, fail(apierr.InvalidBatchSize, "no images; input name: %s", t.Name)
	}
	// validateTensor: every image must be non-empty, before any decoding.
	for i, b := range images {
		if len(b) == 0 {
			return nil, nil, fail(apierr.StringValEmpty, "image %d is empty; input name: %s", i, t.Name)
		}
	}
	sat, convertible := castCap(t.DType)
	size := int64(t.DType.Size())
	limit := t.limit()

	var first *header // the first image's size and channels
	var w, h, c, imgBytes int
	for i, b := range images {
		// The header first: what OVMS checks after decoding is known from
		// it, and so is what decoding would cost.
		hd, err := readHeader(b)
		if err != nil {
			return nil, nil, apierr.Wrap(apierr.ImageParsingFailed, err, "image %d: %v; input name: %s", i, err, t.Name)
		}
		tw, th := int64(w), int64(h)
		if first == nil {
			th, tw = dims[1].fit(int64(hd.h)), dims[2].fit(int64(hd.w))
		}
		tensor := mul(n, th, tw, int64(hd.c), max(size, 1))
		imgCost := hd.cost(resizeRows(hd, tw, th))
		over := tensor > limit-imgCost
		// convertTensorToMatsMatchingTensorInfo (tensor_conversion.hpp)
		// decodes with convertStringToMat: cv::imdecode(IMREAD_UNCHANGED).
		// An image within the limit is decoded before the checks, as
		// OVMS does; one over it is answered from its header (the same
		// answer unless its pixel data is corrupt).
		var m *mat
		if !over {
			if m, err = decodeImage(b); err != nil {
				return nil, nil, apierr.Wrap(apierr.ImageParsingFailed, err, "image %d: %v; input name: %s", i, err, t.Name)
			}
		}
		// validateInput (tensor_conversion_common.cpp): the first image's
		// resolution when resize is not supported
		// (validateResolutionAgainstFirstBatchImage) ...
		if first != nil && !resizable && (hd.w != first.w || hd.h != first.h) {
			return nil, nil, fail(apierr.BinaryImagesResolutionMismatch, "image %d is %dx%d, the first is %dx%d; input name: %s", i, hd.w, hd.h, first.w, first.h, t.Name)
		}
		// ... then the channels (validateNumberOfChannels); a -1 C takes
		// the first image's.
		cd := dims[3]
		if cd.isAny() && first != nil {
			cd = dim{int64(first.c), int64(first.c)}
		}
		if !cd.match(int64(hd.c)) || (first != nil && hd.c != first.c) {
			return nil, nil, fail(apierr.InvalidNoOfChannels, "image %d has %d channels; expected: %s; input name: %s", i, hd.c, cd, t.Name)
		}
		if first == nil {
			// updateTargetResolution (tensor_conversion_common.cpp): the
			// first image sets H and W.
			first = &header{w: hd.w, h: hd.h, c: hd.c}
			hh, ww := th, tw
			c = hd.c
			if hh <= 0 || ww <= 0 || hh > math.MaxInt32 || ww > math.MaxInt32 || hh*ww > math.MaxInt64/(n*int64(c)*max(size, 1)) {
				return nil, nil, fail(apierr.InvalidShape, "cannot make a %dx%d image; input name: %s", ww, hh, t.Name)
			}
			h, w = int(hh), int(ww)
			imgBytes = h * w * c * int(size)
		}
		// convertPrecision (tensor_conversion_common.cpp), before the resize.
		if !convertible {
			return nil, nil, fail(apierr.InvalidPrecision, "binary inputs cannot be converted to %s; input name: %s", t.DType, t.Name)
		}
		same := hd.w == w && hd.h == h
		// resizeNeeded / resizeMat (tensor_conversion_common.cpp): with a -1
		// dimension OVMS does not resize.
		if !same && !resizable {
			return nil, nil, fail(apierr.InvalidShape, "image %d is %dx%d, the model needs %dx%d and has a -1 dimension, so no resize is done; input name: %s", i, hd.w, hd.h, w, h, t.Name)
		}
		if over {
			return nil, nil, fail(apierr.ImageParsingFailed, "image %d is %dx%d: decoding it takes about %s and the tensor of %d %s %s, over the limit of %s for one input's images; input name: %s",
				i, hd.w, hd.h, human(imgCost), n, plural(n, "image", "images"), human(tensor), human(limit), t.Name)
		}
		if data == nil {
			data = make([]byte, int(n)*imgBytes)
		}
		dst := data[i*imgBytes : (i+1)*imgBytes]
		if same {
			convertMat(m, t.DType, sat, dst)
			continue
		}
		resizeMat(m, w, h, t.DType, sat, dst)
	}
	return data, []int64{n, int64(h), int64(w), int64(c)}, nil
}

// resizeRows is how many source rows a resize of the image to tw x th
// reads (two a target row at most), or 0 for all of them.
func resizeRows(hd header, tw, th int64) int {
	if int64(hd.w) == tw && int64(hd.h) == th || th >= int64(hd.h) {
		return 0
	}
	return int(2*th + 2)
}

// human is a byte count for messages: bytes, KiB or MiB, rounded up.
func human(n int64) string {
	up := func(shift uint) int64 {
		if n&(1<<shift-1) != 0 {
			return n>>shift + 1
		}
		return n >> shift
	}
	switch {
	case n == 1:
		return "1 byte"
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", up(10))
	}
	return fmt.Sprintf("%d MiB", up(20))
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
