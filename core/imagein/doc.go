// Package imagein turns the encoded images of an OVMS "binary input" (TFS
// DT_STRING string_val, KServe BYTES) into the tensor of a model input whose
// layout is NHWC, the way OVMS does it with OpenCV, in pure Go.
//
// The rules and their order follow OVMS (openvinotoolkit/model_server,
// 2024-2025): src/tensor_conversion.hpp (convertNativeFileFormatRequestTensorToOVTensor,
// convertTensorToMatsMatchingTensorInfo), src/tensor_conversion_common.cpp
// (validateTensor's helpers, validateInput, validateNumberOfChannels,
// updateTargetResolution, isResizeSupported; earlier all in
// src/tensor_conversion.cpp and, before that, src/binaryutils.cpp), and the
// binary-input batch check of src/predict_request_validation_utils.cpp
// (checkBinaryBatchSizeMismatch):
//
//  1. the model input must have rank 4 (INVALID_SHAPE);
//  2. the number of images must match the batch dimension, a range or -1
//     included ("Expected: 1; Actual: 2; input name: x"), and must not be 0
//     (INVALID_BATCH_SIZE);
//  3. no image may be empty (STRING_VAL_EMPTY), checked for all images
//     before any is decoded;
//  4. then image by image: decode as cv::imdecode(IMREAD_UNCHANGED) does
//     (IMAGE_PARSING_FAILED); when the shape has a -1 dimension, the image
//     must have the first image's resolution
//     (BINARY_IMAGES_RESOLUTION_MISMATCH); its channels must match C, or the
//     first image's channels when C is -1 (INVALID_NO_OF_CHANNELS); the first
//     image fixes the target H and W (the static value, the image's own size
//     for -1, the image's size clamped into a range); the values are cast to
//     the model precision (INVALID_PRECISION for I64, U32, BF16 ...); the
//     image is resized to the target with cv::resize INTER_LINEAR, but only
//     when no dimension of the shape is -1: otherwise an image that does not
//     already have the target size is INVALID_SHAPE.
//
// Every image's header is read first (PNG IHDR, JPEG SOF, with the checks
// of OpenCV's size limits). From it, Decode bounds what the call costs:
// the tensor plus decoding the image (the decoder's planes and the BGR
// image). Within the bound (Target.MaxBytes, else SetMaxBytes, else
// DefaultMaxBytes) the image is decoded and checked as above, as OVMS
// does. Over it, nothing is decoded: the checks OVMS makes after decoding
// (resolution, channels, target size, precision, the -1 resize rule) are
// made from the header, in the same order and with the same messages, and
// an image that passes them all gets IMAGE_PARSING_FAILED saying what it
// would cost and the limit. A header that claims a huge image thus costs
// microseconds, and a batch of many images cannot make a tensor above the
// bound.
//
// Decoded pixels are in OpenCV's order: BGR for colour images, BGRA for
// PNGs with alpha (or tRNS on RGB and palette images), one channel for grey.
// 16-bit PNGs keep 16-bit values (0..65535); the cast to U8, I8 and I16
// saturates, as cv::Mat::convertTo does.
//
// The client-visible messages are OVMS's: bare base messages except the
// batch size check, which carries OVMS's details. The cause of the other
// errors is kept in apierr.Error.Err for logs. An empty image is always
// StringValEmpty; a KServe caller answers BytesContentsEmpty instead, as
// OVMS's KServe validateTensor does.
//
// Known differences from OVMS: only JPEG and PNG are decoded (OpenCV also
// reads BMP, TIFF, WebP ...); JPEGs go through image/jpeg, whose IDCT may
// differ from libjpeg-turbo's by a level or two (the chroma upsampling and
// colour conversion are libjpeg's, see jpegcolor.go), and a truncated or
// arithmetic-coded JPEG, which libjpeg decodes, fails here; OpenCV cannot
// resize I8, I32 and FP16 images, which this package resizes in float.
package imagein
