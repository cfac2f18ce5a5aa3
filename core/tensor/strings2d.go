package tensor

import (
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/imagein"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Hint is how string data sent to a model input is turned into the tensor
// the model takes (OVMS's TensorInfo processing hints).
type Hint int

// The processing hints, chosen from the model input alone.
const (
	// HintNone: strings cannot be sent to this input.
	HintNone Hint = iota
	// HintNative: the input takes strings; they pass through.
	HintNative
	// HintStrings2D: a 2-D U8 input; strings become zero-padded rows.
	HintStrings2D
	// HintImage: a 4-D input; strings are encoded images.
	HintImage
)

// max2DStringBytes is OVMS's bound on a string matrix (1 GiB).
const max2DStringBytes = 1 << 30

// HintFor is the processing hint of model input m (OVMS's
// TensorInfo::createProcessingHints).
func HintFor(m *device.TensorInfo) Hint {
	switch {
	case m.DType == device.String:
		return HintNative
	case len(m.Shape) == 2 && m.DType == device.Uint8:
		return HintStrings2D
	case len(m.Shape) == 4:
		return HintImage
	}
	return HintNone
}

// binaryRank checks that string data for a converted input is 1-D.
func binaryRank(in *Input, api API) error {
	if len(in.Shape) == 1 {
		return nil
	}
	if api == TFS {
		return apierr.Newf(apierr.InvalidNoOfShapeDimensions, "Expected number of binary input shape dimensions: 1; Actual: %d; input name: %s", len(in.Shape), in.Name)
	}
	return apierr.Newf(apierr.InvalidNoOfShapeDimensions, "Expected number of input shape dimensions: 1; Actual: %d; input name: %s", len(in.Shape), in.Name)
}

// binaryBatch is OVMS's checkBinaryBatchSizeMismatch: the declared batch
// must equal the number of strings and match the model's batch dimension.
func binaryBatch(m *device.TensorInfo, in *Input) error {
	n := int64(in.StringCount())
	if in.Shape[0] != n {
		return apierr.New(apierr.InvalidBatchSize)
	}
	if !m.InRange(0, n) {
		return apierr.Newf(apierr.InvalidBatchSize, "Expected: %s; Actual: %d; input name: %s", m.DimString(0), n, in.Name)
	}
	return nil
}

// strings2D validates strings sent to a 2-D U8 input and replaces them by
// the [N, maxlen+1] zero-padded U8 matrix the model takes (OVMS's
// convertStringRequestToOVTensor2D). The matrix is a new buffer: the only
// copy of request bytes this path makes.
func strings2D(m *device.TensorInfo, in *Input, api API) error {
	if err := binaryRank(in, api); err != nil {
		return err
	}
	n, width := int64(in.StringCount()), int64(0)
	for _, s := range in.Strings {
		width = max(width, int64(len(s)))
	}
	width++
	if n <= 0 {
		return apierr.New(apierr.InvalidBatchSize)
	}
	if n*width > max2DStringBytes {
		return apierr.Newf(apierr.InvalidStringMaxSizeExceeded, "actual %dMB (max 1GB)", n*width>>20)
	}
	if err := binaryBatch(m, in); err != nil {
		return err
	}
	if !m.InRange(0, n) || !m.InRange(1, width) {
		return apierr.Newf(apierr.InvalidShape, "Expected batch size: %s; got: %d; Expected max null terminated string length: %s; got: %d; input name: %s",
			m.DimString(0), n, m.DimString(1), width, in.Name)
	}
	buf := make([]byte, n*width)
	for i, s := range in.Strings {
		copy(buf[int64(i)*width:], s)
	}
	in.DType, in.DTypeName, in.Shape = device.Uint8, "U8", Shape{n, width}
	in.Raw, in.RawParts, in.HasRaw, in.Strings, in.Values = buf, nil, true, nil, nil
	return nil
}

// convertStrings handles string data sent to an input that does not take
// strings, by the input's processing hint: a string matrix, images, or a
// precision error (OVMS answers the last case with a bare NOT_IMPLEMENTED,
// which reaches clients as "Unknown error"; see docs/compatibility.md).
func convertStrings(m *device.TensorInfo, in *Input, api API, layout string) error {
	switch HintFor(m) {
	case HintStrings2D:
		return strings2D(m, in, api)
	case HintImage:
		return images(m, in, api, layout)
	}
	return apierr.Newf(apierr.InvalidPrecision, "Expected: %s; Actual: %s; input name: %s", PrecisionName(m.DType), in.DTypeName, in.Name)
}

// images validates encoded images sent to a 4-D input and replaces them by
// the decoded, resized NHWC tensor in the model's precision (OVMS's
// binary inputs). The input must take NHWC: a configured layout that puts
// the channels elsewhere (e.g. "NCHW") gets UNSUPPORTED_LAYOUT; no layout
// setting means NHWC.
func images(m *device.TensorInfo, in *Input, api API, layout string) error {
	if layout != "" && !nhwcCompatible(layout) {
		return apierr.Newf(apierr.UnsupportedLayout, "input %s has layout %s; binary image inputs need NHWC (set its layout to \"NHWC:%s\" to convert)", in.Name, layout, layout)
	}
	if err := binaryRank(in, api); err != nil {
		return err
	}
	if err := binaryBatch(m, in); err != nil {
		return err
	}
	data, shape, err := imagein.Decode(in.Strings, imagein.Target{Name: in.Name, Shape: m.Shape, Range: ranges(m), DType: m.DType})
	if err != nil {
		if api == KServe && apierr.Is(err, apierr.StringValEmpty) {
			return &apierr.Error{Code: apierr.BytesContentsEmpty, Details: apierr.From(err).Details}
		}
		return err
	}
	in.DType, in.DTypeName, in.Shape = m.DType, PrecisionName(m.DType), Shape(shape)
	in.Raw, in.RawParts, in.HasRaw, in.Strings, in.Values = data, nil, true, nil, nil
	return nil
}

// ranges is m's dimension ranges as imagein.Target takes them; nil when
// the model declares none.
func ranges(m *device.TensorInfo) [][2]int64 {
	if len(m.ShapeMax) == 0 {
		return nil
	}
	out := make([][2]int64, len(m.Shape))
	for i := range out {
		out[i] = [2]int64{-1, -1}
		if m.Bounded(i) {
			out[i] = [2]int64{m.ShapeMin[i], m.ShapeMax[i]}
		}
	}
	return out
}

// nhwcCompatible reports whether a 4-D layout is N?HWC-compatible (OVMS's
// check against "N...HWC": "?" matches any dimension).
func nhwcCompatible(layout string) bool {
	if len(layout) != 4 {
		return false
	}
	for i, want := range "NHWC" {
		if c := rune(layout[i]); c != want && c != '?' {
			return false
		}
	}
	return true
}
