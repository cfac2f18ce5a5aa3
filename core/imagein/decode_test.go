package imagein

import (
	"encoding/binary"
	"github.com/ovmsgo/ovms/core/tensor/f16"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
)

var red = color.NRGBA{R: 255, A: 255}

func TestRedPNGIsBGR(t *testing.T) {
	img := pngOf(t, solid(3, 2, red))
	data, shape := mustDecode(t, [][]byte{img}, target(device.Uint8, 1, 2, 3, 3))
	if !eqShape(shape, []int64{1, 2, 3, 3}) {
		t.Fatalf("shape %v", shape)
	}
	for p := 0; p < 6; p++ {
		if got := data[3*p : 3*p+3]; got[0] != 0 || got[1] != 0 || got[2] != 255 {
			t.Fatalf("pixel %d = %v, want B=0 G=0 R=255", p, got)
		}
	}
	data, _ = mustDecode(t, [][]byte{img}, target(device.Float32, 1, 2, 3, 3))
	for i, v := range f32s(data) {
		want := float32(0)
		if i%3 == 2 {
			want = 255
		}
		if v != want {
			t.Fatalf("FP32 value %d = %v, want %v", i, v, want)
		}
	}
}

func TestGrayPNG(t *testing.T) {
	img := pngOf(t, grayImg(4, 3, func(x, y int) uint8 { return uint8(10*x + y) }))
	data, shape := mustDecode(t, [][]byte{img}, target(device.Uint8, 1, 3, 4, 1))
	if !eqShape(shape, []int64{1, 3, 4, 1}) {
		t.Fatalf("shape %v", shape)
	}
	for y := range 3 {
		for x := range 4 {
			if got := data[y*4+x]; got != uint8(10*x+y) {
				t.Fatalf("(%d,%d) = %d", x, y, got)
			}
		}
	}
}

func TestColorJPEG(t *testing.T) {
	img := jpegOf(t, solid(32, 16, color.NRGBA{R: 200, G: 100, B: 50, A: 255}), 95)
	data, shape := mustDecode(t, [][]byte{img}, target(device.Float32, 1, 16, 32, 3))
	if !eqShape(shape, []int64{1, 16, 32, 3}) {
		t.Fatalf("shape %v", shape)
	}
	want := []float32{50, 100, 200}
	for i, v := range f32s(data) {
		if math.Abs(float64(v-want[i%3])) > 3 {
			t.Fatalf("value %d = %v, want %v±3", i, v, want[i%3])
		}
	}
}

func TestGrayJPEG(t *testing.T) {
	img := jpegOf(t, grayImg(16, 16, func(x, y int) uint8 { return 77 }), 95)
	data, shape := mustDecode(t, [][]byte{img}, target(device.Uint8, 1, 16, 16, 1))
	if !eqShape(shape, []int64{1, 16, 16, 1}) {
		t.Fatalf("shape %v", shape)
	}
	for i, v := range data {
		if v < 75 || v > 79 {
			t.Fatalf("value %d = %d, want 77±2", i, v)
		}
	}
}

func TestJPEGChromaEdge(t *testing.T) {
	// A sharp red/blue edge is where libjpeg's fancy upsampling matters.
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			c := color.NRGBA{R: 255, A: 255}
			if x >= 8 {
				c = color.NRGBA{B: 255, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	data, _ := mustDecode(t, [][]byte{jpegOf(t, img, 100)}, target(device.Uint8, 1, 16, 16, 3))
	// Away from the edge the colours are close to the source.
	for _, x := range []int{1, 14} {
		px := data[(8*16+x)*3 : (8*16+x)*3+3]
		b, r := int(px[0]), int(px[2])
		if x == 1 && (r < 240 || b > 20) || x == 14 && (b < 240 || r > 20) {
			t.Fatalf("pixel x=%d = %v", x, px)
		}
	}
}

func TestResizeUpExact(t *testing.T) {
	// cv::resize of [0 100] to 4 columns: [0 25 75 100].
	row := pngOf(t, grayImg(2, 1, func(x, y int) uint8 { return uint8(100 * x) }))
	data, shape := mustDecode(t, [][]byte{row}, target(device.Float32, 1, 1, 4, 1))
	if !eqShape(shape, []int64{1, 1, 4, 1}) {
		t.Fatalf("shape %v", shape)
	}
	if got := f32s(data); got[0] != 0 || got[1] != 25 || got[2] != 75 || got[3] != 100 {
		t.Fatalf("FP32 %v", got)
	}
	data, _ = mustDecode(t, [][]byte{row}, target(device.Uint8, 1, 1, 4, 1))
	if data[0] != 0 || data[1] != 25 || data[2] != 75 || data[3] != 100 {
		t.Fatalf("U8 %v", data)
	}
	for _, dt := range []device.DataType{device.Float64, device.Uint16, device.Int16, device.Int32, device.Int8} {
		data, _ = mustDecode(t, [][]byte{row}, target(dt, 1, 1, 4, 1))
		var got []int
		for i := range 4 {
			got = append(got, valueAt(dt, data, i))
		}
		want := []int{0, 25, 75, 100}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", dt, got, want)
			}
		}
	}
	// The same along H: rows are clamped at the borders.
	col := pngOf(t, grayImg(1, 2, func(x, y int) uint8 { return uint8(100 * y) }))
	data, _ = mustDecode(t, [][]byte{col}, target(device.Float32, 1, 4, 1, 1))
	if got := f32s(data); got[0] != 0 || got[1] != 25 || got[2] != 75 || got[3] != 100 {
		t.Fatalf("FP32 vertical %v", got)
	}
}

// valueAt reads element i of an integer or FP64 tensor.
func valueAt(dt device.DataType, data []byte, i int) int {
	le := binary.LittleEndian
	switch dt {
	case device.Int8:
		return int(int8(data[i]))
	case device.Uint16:
		return int(le.Uint16(data[2*i:]))
	case device.Int16:
		return int(int16(le.Uint16(data[2*i:])))
	case device.Int32:
		return int(int32(le.Uint32(data[4*i:])))
	case device.Float64:
		return int(math.Float64frombits(le.Uint64(data[8*i:])))
	}
	return int(data[i])
}

func TestResizeDownExact(t *testing.T) {
	// 3 -> 2 columns: scale 1.5, fx = 0.25 and 1.75.
	img := pngOf(t, grayImg(3, 1, func(x, y int) uint8 { return uint8(100 * x) }))
	data, _ := mustDecode(t, [][]byte{img}, target(device.Float32, 1, 1, 2, 1))
	if got := f32s(data); got[0] != 25 || got[1] != 175 {
		t.Fatalf("3->2 %v", got)
	}
	// 4x4 -> 2x2 is the mean of each 2x2 block.
	img = pngOf(t, grayImg(4, 4, func(x, y int) uint8 { return uint8(x*10 + y*40) }))
	data, _ = mustDecode(t, [][]byte{img}, target(device.Float32, 1, 2, 2, 1))
	want := []float32{25, 45, 105, 125}
	for i, v := range f32s(data) {
		if v != want[i] {
			t.Fatalf("4x4->2x2 %v, want %v", f32s(data), want)
		}
	}
	// Integer types other than U8 round the 2x mean half up (INTER_AREA).
	img = pngOf(t, grayImg(2, 2, func(x, y int) uint8 { return uint8(x + y) })) // mean 1
	data, _ = mustDecode(t, [][]byte{img}, target(device.Uint16, 1, 1, 1, 1))
	if got := u16s(data)[0]; got != 1 {
		t.Fatalf("U16 area %d", got)
	}
	img = pngOf(t, grayImg(2, 2, func(x, y int) uint8 { return uint8(2 * x * y) })) // sum 2: 0.5 rounds up
	data, _ = mustDecode(t, [][]byte{img}, target(device.Uint16, 1, 1, 1, 1))
	if got := u16s(data)[0]; got != 1 {
		t.Fatalf("U16 area half %d", got)
	}
}

func TestResizeSolidColor(t *testing.T) {
	blue := color.NRGBA{R: 10, G: 20, B: 230, A: 255}
	for _, size := range [][2]int{{7, 5}, {300, 200}} {
		img := pngOf(t, solid(size[0], size[1], blue))
		data, shape := mustDecode(t, [][]byte{img}, target(device.Uint8, 1, 24, 24, 3))
		if !eqShape(shape, []int64{1, 24, 24, 3}) {
			t.Fatalf("shape %v", shape)
		}
		for p := 0; p < 24*24; p++ {
			if px := data[3*p : 3*p+3]; px[0] != 230 || px[1] != 20 || px[2] != 10 {
				t.Fatalf("%v: pixel %d = %v", size, p, px)
			}
		}
	}
	// A large JPEG brought down to 224x224.
	img := jpegOf(t, solid(1920, 1080, blue), 90)
	data, _ := mustDecode(t, [][]byte{img}, target(device.Float32, 1, 224, 224, 3))
	want := []float32{230, 20, 10}
	for i, v := range f32s(data) {
		if math.Abs(float64(v-want[i%3])) > 3 {
			t.Fatalf("value %d = %v, want %v±3", i, v, want[i%3])
		}
	}
}

func TestU8FixedPointCloseToFloat(t *testing.T) {
	img := pngOf(t, grayImg(37, 23, func(x, y int) uint8 { return uint8((x*x*7 + y*13) % 256) }))
	for _, size := range [][2]int64{{50, 61}, {11, 17}, {23, 37}} {
		u8, _ := mustDecode(t, [][]byte{img}, target(device.Uint8, 1, size[0], size[1], 1))
		f, _ := mustDecode(t, [][]byte{img}, target(device.Float32, 1, size[0], size[1], 1))
		for i, v := range f32s(f) {
			if d := math.Abs(float64(v) - float64(u8[i])); d > 1 {
				t.Fatalf("%v: value %d U8 %d vs FP32 %v", size, i, u8[i], v)
			}
		}
	}
}

func TestBatch(t *testing.T) {
	colors := []color.NRGBA{{R: 255, A: 255}, {G: 255, A: 255}, {B: 255, A: 255}}
	sizes := [][2]int{{4, 4}, {8, 2}, {3, 5}} // resized to the static 4x4
	var images [][]byte
	for i, c := range colors {
		images = append(images, pngOf(t, solid(sizes[i][0], sizes[i][1], c)))
	}
	data, shape := mustDecode(t, images, target(device.Float32, 3, 4, 4, 3))
	if !eqShape(shape, []int64{3, 4, 4, 3}) {
		t.Fatalf("shape %v", shape)
	}
	v := f32s(data)
	for i, c := range colors {
		want := []float32{float32(c.B), float32(c.G), float32(c.R)}
		for p := 0; p < 16; p++ {
			for k := range 3 {
				if got := v[(i*16+p)*3+k]; got != want[k] {
					t.Fatalf("image %d pixel %d channel %d = %v, want %v", i, p, k, got, want[k])
				}
			}
		}
	}
	// A dynamic batch takes any number of images, but with a -1 dimension
	// OVMS does not resize: they must have the model's size.
	_, shape = mustDecode(t, [][]byte{images[0], images[0]}, target(device.Uint8, -1, 4, 4, 3))
	if !eqShape(shape, []int64{2, 4, 4, 3}) {
		t.Fatalf("dynamic batch shape %v", shape)
	}
}

func TestPrecisions(t *testing.T) {
	img := pngOf(t, grayImg(1, 1, func(x, y int) uint8 { return 200 }))
	cases := []struct {
		dt   device.DataType
		want []byte
	}{
		{device.Uint8, []byte{200}},
		{device.Int8, []byte{127}}, // convertTo saturates
		{device.Uint16, []byte{200, 0}},
		{device.Int16, []byte{200, 0}},
		{device.Int32, []byte{200, 0, 0, 0}},
		{device.Float32, []byte{0, 0, 0x48, 0x43}},
		{device.Float64, []byte{0, 0, 0, 0, 0, 0, 0x69, 0x40}},
	}
	for _, c := range cases {
		data, _ := mustDecode(t, [][]byte{img}, target(c.dt, 1, 1, 1, 1))
		if string(data) != string(c.want) {
			t.Errorf("%s: % x, want % x", c.dt, data, c.want)
		}
	}
	// FP16: 255 is 0x5BF8 and 128 is 0x5800; also through a resize.
	img = pngOf(t, solid(2, 2, color.NRGBA{R: 255, G: 128, A: 255}))
	for _, size := range []int64{2, 3} {
		data, _ := mustDecode(t, [][]byte{img}, target(device.Float16, 1, size, size, 3))
		h := u16s(data)
		if h[0] != 0 || h[1] != 0x5800 || h[2] != 0x5bf8 || f16.HalfToFloat32(h[2]) != 255 {
			t.Fatalf("FP16 %dx%d: %#x", size, size, h[:3])
		}
	}
}

func TestDynamicResolution(t *testing.T) {
	img := pngOf(t, solid(5, 3, red))
	_, shape := mustDecode(t, [][]byte{img}, target(device.Uint8, 1, -1, -1, 3))
	if !eqShape(shape, []int64{1, 3, 5, 3}) {
		t.Fatalf("any: shape %v", shape)
	}
	// Ranges clamp the first image's size: H 3 -> 2 (max), W 5 stays.
	tg := target(device.Uint8, 1, -1, -1, 3)
	tg.Range = [][2]int64{{-1, -1}, {1, 2}, {4, 8}, {-1, -1}}
	data, shape := mustDecode(t, [][]byte{img}, tg)
	if !eqShape(shape, []int64{1, 2, 5, 3}) {
		t.Fatalf("range: shape %v", shape)
	}
	if data[2] != 255 {
		t.Fatalf("range: %v", data[:3])
	}
	// W 2 -> 4 (min), and the second image is resized to the first's target.
	small := pngOf(t, solid(2, 2, red))
	tg.Shape[0] = 2
	_, shape = mustDecode(t, [][]byte{small, img}, tg)
	if !eqShape(shape, []int64{2, 2, 4, 3}) {
		t.Fatalf("range min: shape %v", shape)
	}
	// A -1 C takes the image's channels.
	_, shape = mustDecode(t, [][]byte{img}, target(device.Uint8, 1, 3, 5, -1))
	if !eqShape(shape, []int64{1, 3, 5, 3}) {
		t.Fatalf("any C: shape %v", shape)
	}
}

func TestAlphaAndPalette(t *testing.T) {
	// RGBA PNG: 4 channels, BGRA, not premultiplied.
	rgba := pngOf(t, solid(2, 2, color.NRGBA{R: 200, G: 100, B: 50, A: 128}))
	data, shape := mustDecode(t, [][]byte{rgba}, target(device.Uint8, 1, 2, 2, 4))
	if !eqShape(shape, []int64{1, 2, 2, 4}) || string(data[:4]) != string([]byte{50, 100, 200, 128}) {
		t.Fatalf("RGBA: %v %v", shape, data[:4])
	}
	// Grey+alpha: BGRA with the grey in B, G and R.
	ga := rawPNG(t, 2, 1, 8, 4, [][]byte{{90, 255, 91, 0}}, nil)
	data, _ = mustDecode(t, [][]byte{ga}, target(device.Uint8, 1, 1, 2, 4))
	if string(data) != string([]byte{90, 90, 90, 255, 91, 91, 91, 0}) {
		t.Fatalf("grey+alpha: %v", data)
	}
	// Grey with tRNS stays one channel.
	gt := rawPNG(t, 2, 1, 8, 0, [][]byte{{7, 9}}, []byte{0, 7})
	data, _ = mustDecode(t, [][]byte{gt}, target(device.Uint8, 1, 1, 2, 1))
	if string(data) != string([]byte{7, 9}) {
		t.Fatalf("grey+tRNS: %v", data)
	}
	// RGB with tRNS gets alpha.
	rt := rawPNG(t, 1, 1, 8, 2, [][]byte{{1, 2, 3}}, []byte{0, 1, 0, 2, 0, 3})
	data, _ = mustDecode(t, [][]byte{rt}, target(device.Uint8, 1, 1, 1, 4))
	if string(data) != string([]byte{3, 2, 1, 0}) {
		t.Fatalf("RGB+tRNS: %v", data)
	}
	// Palette: BGR without tRNS, BGRA with it.
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{40, 50, 60, 255}})
	pal.Pix = []uint8{0, 1}
	data, _ = mustDecode(t, [][]byte{pngOf(t, pal)}, target(device.Uint8, 1, 1, 2, 3))
	if string(data) != string([]byte{30, 20, 10, 60, 50, 40}) {
		t.Fatalf("palette: %v", data)
	}
	pal.Palette[1] = color.NRGBA{40, 50, 60, 0}
	data, _ = mustDecode(t, [][]byte{pngOf(t, pal)}, target(device.Uint8, 1, 1, 2, 4))
	if string(data) != string([]byte{30, 20, 10, 255, 60, 50, 40, 0}) {
		t.Fatalf("palette+tRNS: %v", data)
	}
}

func Test16BitPNG(t *testing.T) {
	img := image.NewGray16(image.Rect(0, 0, 2, 1))
	img.SetGray16(0, 0, color.Gray16{Y: 1000})
	img.SetGray16(1, 0, color.Gray16{Y: 40000})
	b := pngOf(t, img)
	data, _ := mustDecode(t, [][]byte{b}, target(device.Uint16, 1, 1, 2, 1))
	if got := u16s(data); got[0] != 1000 || got[1] != 40000 {
		t.Fatalf("U16 %v", got)
	}
	data, _ = mustDecode(t, [][]byte{b}, target(device.Float32, 1, 1, 2, 1))
	if got := f32s(data); got[0] != 1000 || got[1] != 40000 {
		t.Fatalf("FP32 %v", got)
	}
	data, _ = mustDecode(t, [][]byte{b}, target(device.Int16, 1, 1, 2, 1))
	if got := u16s(data); got[0] != 1000 || got[1] != 32767 {
		t.Fatalf("I16 %v", got)
	}
	data, _ = mustDecode(t, [][]byte{b}, target(device.Uint8, 1, 1, 2, 1))
	if data[0] != 255 || data[1] != 255 {
		t.Fatalf("U8 saturates: %v", data)
	}
	// 16-bit RGB keeps BGR order.
	rgb := image.NewRGBA64(image.Rect(0, 0, 1, 1))
	rgb.SetRGBA64(0, 0, color.RGBA64{R: 300, G: 200, B: 100, A: 0xffff})
	data, _ = mustDecode(t, [][]byte{pngOf(t, rgb)}, target(device.Uint16, 1, 1, 1, 3))
	if got := u16s(data); got[0] != 100 || got[1] != 200 || got[2] != 300 {
		t.Fatalf("RGB16 %v", got)
	}
}
