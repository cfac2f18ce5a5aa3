package imagein

import (
	"image/color"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/plugins/device"
)

func TestErrors(t *testing.T) {
	rgb := pngOf(t, solid(4, 4, red))
	rgb2 := pngOf(t, solid(2, 4, red))
	gray := pngOf(t, grayImg(4, 4, func(x, y int) uint8 { return 1 }))
	rgba := pngOf(t, solid(4, 4, color.NRGBA{R: 1, A: 7}))
	garbage := []byte("not an image")
	truncated := jpegOf(t, solid(16, 16, red), 90)
	truncated = truncated[:len(truncated)/2]
	ranged := target(device.Uint8, -1, 4, 4, 3)
	ranged.Range = [][2]int64{{1, 2}}

	cases := []struct {
		name   string
		images [][]byte
		tg     Target
		code   apierr.Code
		msg    string
	}{
		{"rank", [][]byte{rgb}, target(device.Uint8, 4, 4, 3), apierr.InvalidShape,
			"Invalid input shape - binary inputs need a rank 4 NHWC shape, got rank 3; input name: in"},
		{"batch static", [][]byte{rgb}, target(device.Uint8, 2, 4, 4, 3), apierr.InvalidBatchSize,
			"Invalid input batch size - Expected: 2; Actual: 1; input name: in"},
		{"batch range", [][]byte{rgb, rgb, rgb}, ranged, apierr.InvalidBatchSize,
			"Invalid input batch size - Expected: [1~2]; Actual: 3; input name: in"},
		{"batch zero static", nil, target(device.Uint8, 1, 4, 4, 3), apierr.InvalidBatchSize,
			"Invalid input batch size - Expected: 1; Actual: 0; input name: in"},
		{"batch zero dynamic", nil, target(device.Uint8, -1, 4, 4, 3), apierr.InvalidBatchSize,
			"Invalid input batch size - no images; input name: in"},
		{"batch before empty", [][]byte{{}}, target(device.Uint8, 2, 4, 4, 3), apierr.InvalidBatchSize,
			"Invalid input batch size - Expected: 2; Actual: 1; input name: in"},
		{"empty", [][]byte{rgb, {}}, target(device.Uint8, 2, 4, 4, 3), apierr.StringValEmpty,
			"String val is empty - image 1 is empty; input name: in"},
		{"empty before decoding", [][]byte{garbage, {}}, target(device.Uint8, 2, 4, 4, 3), apierr.StringValEmpty,
			"String val is empty - image 1 is empty; input name: in"},
		{"garbage", [][]byte{garbage}, target(device.Uint8, 1, 4, 4, 3), apierr.ImageParsingFailed,
			"Image parsing failed - image 0: not a JPEG or PNG image; input name: in"},
		// libjpeg decodes a truncated JPEG with a warning and grey fill;
		// image/jpeg cannot, so this one differs from OVMS.
		{"truncated JPEG", [][]byte{truncated}, target(device.Uint8, 1, 4, 4, 3), apierr.ImageParsingFailed,
			"Image parsing failed - image 0: unexpected EOF; input name: in"},
		{"grey into 3 channels", [][]byte{gray}, target(device.Uint8, 1, 4, 4, 3), apierr.InvalidNoOfChannels,
			"Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: in"},
		{"colour into 1 channel", [][]byte{rgb}, target(device.Uint8, 1, 4, 4, 1), apierr.InvalidNoOfChannels,
			"Invalid number of channels in binary input - image 0 has 3 channels; expected: 1; input name: in"},
		{"alpha into 3 channels", [][]byte{rgba}, target(device.Uint8, 1, 4, 4, 3), apierr.InvalidNoOfChannels,
			"Invalid number of channels in binary input - image 0 has 4 channels; expected: 3; input name: in"},
		{"any C follows the first image", [][]byte{rgb, gray}, target(device.Uint8, 2, 4, 4, -1), apierr.InvalidNoOfChannels,
			"Invalid number of channels in binary input - image 1 has 1 channels; expected: 3; input name: in"},
		{"channels before a later parse failure", [][]byte{gray, garbage}, target(device.Uint8, 2, 4, 4, 3), apierr.InvalidNoOfChannels,
			"Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: in"},
		{"resolution mismatch", [][]byte{rgb, rgb2}, target(device.Uint8, 2, -1, -1, 3), apierr.BinaryImagesResolutionMismatch,
			"Binary input images for this endpoint are required to have the same resolution - image 1 is 2x4, the first is 4x4; input name: in"},
		{"resolution before channels", [][]byte{rgb, pngOf(t, grayImg(2, 2, func(x, y int) uint8 { return 0 }))},
			target(device.Uint8, -1, 4, 4, 3), apierr.BinaryImagesResolutionMismatch,
			"Binary input images for this endpoint are required to have the same resolution - image 1 is 2x2, the first is 4x4; input name: in"},
		{"no resize with a -1 dimension", [][]byte{rgb2}, target(device.Uint8, -1, 4, 4, 3), apierr.InvalidShape,
			"Invalid input shape - image 0 is 2x4, the model needs 4x4 and has a -1 dimension, so no resize is done; input name: in"},
		{"precision", [][]byte{rgb}, target(device.Int64, 1, 4, 4, 3), apierr.InvalidPrecision,
			"Invalid input precision - binary inputs cannot be converted to int64; input name: in"},
		{"channels before precision", [][]byte{gray}, target(device.Int64, 1, 4, 4, 3), apierr.InvalidNoOfChannels,
			"Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: in"},
		{"zero size target", [][]byte{rgb}, target(device.Uint8, 1, 0, 4, 3), apierr.InvalidShape,
			"Invalid input shape - cannot make a 4x0 image; input name: in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, shape, err := Decode(c.images, c.tg)
			if err == nil {
				t.Fatalf("no error; shape %v, %d bytes", shape, len(data))
			}
			if _, ok := err.(*apierr.Error); !ok {
				t.Fatalf("error is %T, want *apierr.Error", err)
			}
			if !apierr.Is(err, c.code) || msg(err) != c.msg {
				t.Fatalf("got %q (code %d), want %q (code %d)", msg(err), apierr.From(err).Code, c.msg, c.code)
			}
			if data != nil || shape != nil {
				t.Fatalf("data or shape returned with an error")
			}
		})
	}
}

func TestErrorCauseIsKept(t *testing.T) {
	_, _, err := Decode([][]byte{[]byte("x")}, target(device.Uint8, 1, 4, 4, 3))
	e := apierr.From(err)
	if e.Err == nil || e.Err.Error() != "not a JPEG or PNG image" {
		t.Fatalf("cause %v", e.Err)
	}
}
