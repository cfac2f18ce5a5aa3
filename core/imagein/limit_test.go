package imagein

import (
	"bytes"
	"compress/zlib"
	"image"
	"image/color"
	"runtime"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/imagein/imagetest"
	"github.com/ovmsgo/ovms/plugins/device"
)

// jpegBomb is imagetest.JPEGBomb, failing t on error.
func jpegBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	b, err := imagetest.JPEGBomb(w, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated runs f and returns the bytes it allocated on the Go heap.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// A 200-byte JPEG whose header claims 16384x16384 pixels (within OpenCV's
// limits) costs image/jpeg 400 MB of planes before its scan runs out; the
// header alone must refuse it.
func TestJPEGBombIsRefusedFromItsHeader(t *testing.T) {
	bomb := jpegBomb(t, 16384, 16384)
	var err error
	n := allocated(func() { _, _, err = Decode([][]byte{bomb}, target(device.Float32, 1, 224, 224, 3)) })
	if !apierr.Is(err, apierr.ImageParsingFailed) || !strings.Contains(msg(err), "image 0 is 16384x16384") {
		t.Fatalf("got %q", msg(err))
	}
	if n > 8<<20 {
		t.Fatalf("refusing a %d-byte JPEG allocated %d MiB", len(bomb), n>>20)
	}
}

// A grey PNG of 16384x16384 zeros (300 KB) into a 3-channel input: OVMS
// answers INVALID_NO_OF_CHANNELS, which the header already tells.
func TestPNGBombChannelsFromTheHeader(t *testing.T) {
	bomb := imagetest.ZerosPNG(16384, 16384, imagetest.Grey)
	var err error
	n := allocated(func() { _, _, err = Decode([][]byte{bomb}, target(device.Uint8, 1, 224, 224, 3)) })
	if want := "Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: in"; msg(err) != want {
		t.Fatalf("got %q, want %q", msg(err), want)
	}
	if n > 8<<20 {
		t.Fatalf("the channel check of a %d-byte PNG allocated %d MiB", len(bomb), n>>20)
	}
	// The same image with the right channel count is over the limit.
	rgb := imagetest.ZerosPNG(16384, 16384, imagetest.RGB)
	n = allocated(func() { _, _, err = Decode([][]byte{rgb}, target(device.Uint8, 1, 224, 224, 3)) })
	if !apierr.Is(err, apierr.ImageParsingFailed) || !strings.Contains(msg(err), "image 0 is 16384x16384") {
		t.Fatalf("got %q", msg(err))
	}
	if n > 8<<20 {
		t.Fatalf("refusing a %d-byte PNG allocated %d MiB", len(rgb), n>>20)
	}
}

// Many images, each small, into an input with -1 dimensions: the tensor
// they make (24 x 2048x2048x3 = 288 MiB) is over the limit, and is refused
// before it is allocated.
func TestBatchIsBoundedByTheTensor(t *testing.T) {
	img := jpegOf(t, solid(2048, 2048, color.NRGBA{G: 9, A: 255}), 50)
	images := make([][]byte, 24)
	for i := range images {
		images[i] = img
	}
	var err error
	n := allocated(func() { _, _, err = Decode(images, target(device.Uint8, -1, -1, -1, 3)) })
	if !apierr.Is(err, apierr.ImageParsingFailed) || !strings.Contains(msg(err), "tensor of 24 images 288 MiB") {
		t.Fatalf("got %q", msg(err))
	}
	if n > 8<<20 {
		t.Fatalf("refusing the batch allocated %d MiB", n>>20)
	}
}

// Over the limit, the header gives OVMS's answer for everything OVMS
// checks after decoding, in OVMS's order; only an image that passes them
// all gets the limit's error.
func TestOverTheLimitTheHeaderAnswersInOVMSOrder(t *testing.T) {
	rgb := pngOf(t, solid(4, 4, red))
	rgb2 := pngOf(t, solid(2, 4, red))
	gray := pngOf(t, grayImg(4, 4, func(x, y int) uint8 { return 1 }))
	small := func(tg Target) Target { tg.MaxBytes = 1; return tg }
	cases := []struct {
		name   string
		images [][]byte
		tg     Target
		msg    string
	}{
		{"channels", [][]byte{gray}, target(device.Uint8, 1, 4, 4, 3),
			"Invalid number of channels in binary input - image 0 has 1 channels; expected: 3; input name: in"},
		{"precision", [][]byte{rgb}, target(device.Int64, 1, 4, 4, 3),
			"Invalid input precision - binary inputs cannot be converted to int64; input name: in"},
		{"no resize with a -1 dimension", [][]byte{rgb2}, target(device.Uint8, -1, 4, 4, 3),
			"Invalid input shape - image 0 is 2x4, the model needs 4x4 and has a -1 dimension, so no resize is done; input name: in"},
		{"zero size target", [][]byte{rgb}, target(device.Uint8, 1, 0, 4, 3),
			"Invalid input shape - cannot make a 4x0 image; input name: in"},
		{"the limit last", [][]byte{rgb}, target(device.Uint8, 1, 4, 4, 3),
			"Image parsing failed - image 0 is 4x4: decoding it takes about 65 KiB and the tensor of 1 image 48 bytes, over the limit of 1 byte for one input's images; input name: in"},
		{"a header that does not parse", [][]byte{[]byte("\x89PNG\r\n\x1a\nshort")}, target(device.Uint8, 1, 4, 4, 3),
			"Image parsing failed - image 0: png: missing IHDR; input name: in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := Decode(c.images, small(c.tg)); msg(err) != c.msg {
				t.Fatalf("got %q, want %q", msg(err), c.msg)
			}
		})
	}
	// A later image over the limit, after one within it: its resolution
	// (with -1 dimensions), then its channels.
	big := jpegBomb(t, 2048, 2048)
	_, _, err := Decode([][]byte{rgb, big}, Target{Name: "in", Shape: []int64{2, -1, -1, 3}, DType: device.Uint8, MaxBytes: 1 << 20})
	if want := "Binary input images for this endpoint are required to have the same resolution - image 1 is 2048x2048, the first is 4x4; input name: in"; msg(err) != want {
		t.Fatalf("got %q", msg(err))
	}
	grayBig := imagetest.ZerosPNG(2048, 2048, imagetest.Grey)
	_, _, err = Decode([][]byte{rgb, grayBig}, Target{Name: "in", Shape: []int64{2, 4, 4, 3}, DType: device.Uint8, MaxBytes: 1 << 20})
	if want := "Invalid number of channels in binary input - image 1 has 1 channels; expected: 3; input name: in"; msg(err) != want {
		t.Fatalf("got %q", msg(err))
	}
	_, _, err = Decode([][]byte{rgb, big}, Target{Name: "in", Shape: []int64{2, 4, 4, 3}, DType: device.Uint8, MaxBytes: 1 << 20})
	if !strings.HasPrefix(msg(err), "Image parsing failed - image 1 is 2048x2048: decoding it takes about 7 MiB and the tensor of 2 images 96 bytes, over the limit of 1 MiB") {
		t.Fatalf("got %q", msg(err))
	}
}

// Within the limit nothing changes, and the limit can be set for the
// package or for one call.
func TestLimitSettings(t *testing.T) {
	img := jpegOf(t, solid(64, 64, red), 90)
	if _, _, err := Decode([][]byte{img}, target(device.Uint8, 1, 64, 64, 3)); err != nil {
		t.Fatal(err)
	}
	defer SetMaxBytes(0)
	SetMaxBytes(10 << 10)
	if MaxBytes() != 10<<10 {
		t.Fatalf("MaxBytes %d", MaxBytes())
	}
	_, _, err := Decode([][]byte{img}, target(device.Uint8, 1, 64, 64, 3))
	if !strings.Contains(msg(err), "over the limit of 10 KiB") {
		t.Fatalf("with a 10 KiB limit: %q", msg(err))
	}
	tg := target(device.Uint8, 1, 64, 64, 3)
	tg.MaxBytes = 1 << 20
	if _, _, err := Decode([][]byte{img}, tg); err != nil {
		t.Fatalf("a Target's own limit: %v", err)
	}
	SetMaxBytes(0)
	if MaxBytes() != DefaultMaxBytes {
		t.Fatalf("MaxBytes after a reset %d", MaxBytes())
	}
}

// The header's estimate is an upper bound on what decoding allocates, for
// each kind of image image/png and image/jpeg make, and not absurdly
// above it.
func TestCostBoundsTheDecode(t *testing.T) {
	ph := photo(256, 192)
	cases := map[string][]byte{
		"jpeg 4:2:0":    jpegOf(t, ph, 90),
		"jpeg grey":     jpegOf(t, grayImg(256, 192, func(x, y int) uint8 { return uint8(x ^ y) }), 90),
		"png rgb":       pngOf(t, solid(256, 192, color.RGBA{R: 1, A: 255})),
		"png rgba":      pngOf(t, solid(256, 192, color.NRGBA{R: 1, A: 7})),
		"png grey":      pngOf(t, grayImg(256, 192, func(x, y int) uint8 { return uint8(x) })),
		"png 16-bit":    pngOf(t, image16(256, 192)),
		"png paletted":  pngOf(t, paletted(256, 192)),
		"png interlace": interlaced(t),
	}
	for name, b := range cases {
		hd, err := readHeader(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var m *mat
		n := allocated(func() {
			m, err = decodeImage(b)
			if m.lazy != nil { // make every row, as a same-size conversion does
				for y := range m.h {
					m.row8(y)
				}
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		est := hd.cost(0)
		if uint64(est) < n || uint64(est) > 4*n+64<<10 {
			t.Errorf("%s: estimate %d bytes, decoding allocated %d", name, est, n)
		}
		if m.w != hd.w || m.h != hd.h || m.c != hd.c || m.is16() != hd.d16 {
			t.Errorf("%s: header says %dx%dx%d (16-bit %v), the decode %dx%dx%d (%v)", name, hd.w, hd.h, hd.c, hd.d16, m.w, m.h, m.c, m.is16())
		}
	}
}

func image16(w, h int) *image.NRGBA64 {
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA64(x, y, color.NRGBA64{R: uint16(x * 200), G: uint16(y * 300), B: 7, A: 0xffff})
		}
	}
	return img
}

func paletted(w, h int) *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, red, color.White})
	for y := range h {
		for x := range w {
			img.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	return img
}

// interlaced writes a 256x192 8-bit grey Adam7 PNG by hand (image/png
// writes none).
func interlaced(t testing.TB) []byte {
	t.Helper()
	const w, h = 256, 192
	passes := [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	var raw bytes.Buffer
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		for y := range ph {
			raw.WriteByte(0)
			for x := range pw {
				raw.WriteByte(byte(x + y))
			}
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	return imagetest.PNG(imagetest.PNGHeader{Width: w, Height: h, ColorType: imagetest.Grey, Interlace: true}, z.Bytes())
}
