package imagein

import (
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

	var first *mat // the first image's size and channels only
	var w, h, c, imgBytes int
	for i, b := range images {
		// convertTensorToMatsMatchingTensorInfo (tensor_conversion.hpp)
		// decodes with convertStringToMat: cv::imdecode(IMREAD_UNCHANGED).
		m, err := decodeImage(b)
		if err != nil {
			return nil, nil, apierr.Wrap(apierr.ImageParsingFailed, err, "image %d: %v; input name: %s", i, err, t.Name)
		}
		// validateInput (tensor_conversion_common.cpp): the first image's
		// resolution when resize is not supported
		// (validateResolutionAgainstFirstBatchImage) ...
		if first != nil && !resizable && (m.w != first.w || m.h != first.h) {
			return nil, nil, fail(apierr.BinaryImagesResolutionMismatch, "image %d is %dx%d, the first is %dx%d; input name: %s", i, m.w, m.h, first.w, first.h, t.Name)
		}
		// ... then the channels (validateNumberOfChannels); a -1 C takes
		// the first image's.
		cd := dims[3]
		if cd.isAny() && first != nil {
			cd = dim{int64(first.c), int64(first.c)}
		}
		if !cd.match(int64(m.c)) || (first != nil && m.c != first.c) {
			return nil, nil, fail(apierr.InvalidNoOfChannels, "image %d has %d channels; expected: %s; input name: %s", i, m.c, cd, t.Name)
		}
		if first == nil {
			// updateTargetResolution (tensor_conversion_common.cpp): the
			// first image sets H and W.
			first = &mat{w: m.w, h: m.h, c: m.c}
			hh, ww := dims[1].fit(int64(m.h)), dims[2].fit(int64(m.w))
			c = m.c
			size := int64(t.DType.Size())
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
		if data == nil {
			data = make([]byte, int(n)*imgBytes)
		}
		dst := data[i*imgBytes : (i+1)*imgBytes]
		if m.w == w && m.h == h {
			convertMat(m, t.DType, sat, dst)
			continue
		}
		// resizeNeeded / resizeMat (tensor_conversion_common.cpp): with a -1
		// dimension OVMS does not resize.
		if !resizable {
			return nil, nil, fail(apierr.InvalidShape, "image %d is %dx%d, the model needs %dx%d and has a -1 dimension, so no resize is done; input name: %s", i, m.w, m.h, w, h, t.Name)
		}
		resizeMat(m, w, h, t.DType, sat, dst)
	}
	return data, []int64{n, int64(h), int64(w), int64(c)}, nil
}
