package imagein

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/imagein/imagetest"
	"github.com/ovmsgo/ovms/plugins/device"
)

func solid(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

func grayImg(w, h int, f func(x, y int) uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{f(x, y)})
		}
	}
	return img
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawPNG writes a non-interlaced PNG by hand, for the colour types
// image/png never writes (grey+alpha, grey with tRNS). rows are the
// unfiltered scanlines.
func rawPNG(t testing.TB, w, h, depth, colorType int, rows [][]byte, trns []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	for _, r := range rows {
		zw.Write([]byte{0})
		zw.Write(r)
	}
	zw.Close()
	return imagetest.PNG(imagetest.PNGHeader{Width: w, Height: h, Depth: depth, ColorType: colorType, TRNS: trns}, z.Bytes())
}

func target(dt device.DataType, shape ...int64) Target {
	return Target{Name: "in", Shape: shape, DType: dt}
}

func mustDecode(t *testing.T, images [][]byte, tg Target) ([]byte, []int64) {
	t.Helper()
	data, shape, err := Decode(images, tg)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return data, shape
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func u16s(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

func msg(err error) string {
	if err == nil {
		return "<nil>"
	}
	return apierr.From(err).Error()
}

func eqShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
