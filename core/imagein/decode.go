package imagein

import (
	"fmt"
	"math"

	"github.com/ovmsgo/ovms/core/apierr"
)

// fail returns an error whose client message is OVMS's bare message for c
// (OVMS's tensor_conversion.cpp returns these codes without details); the
// cause is kept for logs.
func fail(c apierr.Code, format string, args ...any) *apierr.Error {
	return &apierr.Error{Code: c, Err: fmt.Errorf(format, args...)}
}

// Decode decodes images (one per batch element), resizes them to the
// target's H and W and returns the tensor bytes (little-endian, row-major
// NHWC) and its shape. The checks and their order are OVMS's (see the
// package comment); every error is an *apierr.Error.
func Decode(images [][]byte, t Target) (data []byte, shape []int64, err error) {
	// validateTensor (tensor_conversion.cpp / the frontends): rank 4; the
	// N...HWC layout check (UNSUPPORTED_LAYOUT) is the caller's.
	if len(t.Shape) != 4 {
		return nil, nil, fail(apierr.InvalidShape, "input %s: binary inputs need a rank 4 NHWC shape, got rank %d", t.Name, len(t.Shape))
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
		return nil, nil, fail(apierr.InvalidBatchSize, "input %s: no images", t.Name)
	}
	// validateTensor: every image must be non-empty, before any decoding.
	for i, b := range images {
		if len(b) == 0 {
			return nil, nil, fail(apierr.StringValEmpty, "input %s: image %d is empty", t.Name, i)
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
			return nil, nil, fail(apierr.ImageParsingFailed, "input %s: image %d: %v", t.Name, i, err)
		}
		// validateInput (tensor_conversion_common.cpp): the first image's
		// resolution when resize is not supported
		// (validateResolutionAgainstFirstBatchImage) ...
		if first != nil && !resizable && (m.w != first.w || m.h != first.h) {
			return nil, nil, fail(apierr.BinaryImagesResolutionMismatch, "input %s: image %d is %dx%d, the first is %dx%d", t.Name, i, m.w, m.h, first.w, first.h)
		}
		// ... then the channels (validateNumberOfChannels); a -1 C takes
		// the first image's.
		cd := dims[3]
		if cd.isAny() && first != nil {
			cd = dim{int64(first.c), int64(first.c)}
		}
		if !cd.match(int64(m.c)) || (first != nil && m.c != first.c) {
			return nil, nil, fail(apierr.InvalidNoOfChannels, "input %s: image %d has %d channels; expected: %s", t.Name, i, m.c, cd)
		}
		if first == nil {
			// updateTargetResolution (tensor_conversion_common.cpp): the
			// first image sets H and W.
			first = &mat{w: m.w, h: m.h, c: m.c}
			hh, ww := dims[1].fit(int64(m.h)), dims[2].fit(int64(m.w))
			c = m.c
			size := int64(t.DType.Size())
			if hh <= 0 || ww <= 0 || hh > math.MaxInt32 || ww > math.MaxInt32 || hh*ww > math.MaxInt64/(n*int64(c)*max(size, 1)) {
				return nil, nil, fail(apierr.InvalidShape, "input %s: cannot make a %dx%d image", t.Name, ww, hh)
			}
			h, w = int(hh), int(ww)
			imgBytes = h * w * c * int(size)
		}
		// convertPrecision (tensor_conversion_common.cpp), before the resize.
		if !convertible {
			return nil, nil, fail(apierr.InvalidPrecision, "input %s: binary inputs cannot be converted to %s", t.Name, t.DType)
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
			return nil, nil, fail(apierr.InvalidShape, "input %s: image %d is %dx%d, the model needs %dx%d and has a -1 dimension, so no resize is done", t.Name, i, m.w, m.h, w, h)
		}
		resizeMat(m, w, h, t.DType, sat, dst)
	}
	return data, []int64{n, int64(h), int64(w), int64(c)}, nil
}
