package imagein

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

func TestFancyUpsample(t *testing.T) {
	// One chroma row [100 200 0] doubled by h2v2 (the row is its own
	// neighbour at the top edge) and by h2v1.
	plane := []uint8{100, 200, 0}
	want := []byte{100, 125, 175, 150, 50, 0}
	for _, vs := range []int{2, 1} {
		u := &upsampler{stride: 3, cw: 3, ch: 1, hs: 2, vs: vs, w: 6}
		u.sums = make([]int32, 3)
		out := make([]uint8, 10)
		u.row(plane, 0, out)
		if string(out[:6]) != string(want) {
			t.Fatalf("vs=%d: %v, want %v", vs, out[:6], want)
		}
		for x := range 6 {
			if got := u.point(plane, plane, 1, x); got != want[x] {
				t.Fatalf("vs=%d: point %d = %d, want %d", vs, x, got, want[x])
			}
		}
	}
	// Two chroma columns or fewer are replicated (h2v1_upsample).
	u := &upsampler{stride: 2, cw: 2, ch: 1, hs: 2, vs: 1, w: 4}
	out := make([]uint8, 8)
	u.row([]uint8{100, 200}, 0, out)
	if string(out[:4]) != string([]byte{100, 100, 200, 200}) {
		t.Fatalf("narrow: %v", out[:4])
	}
	// h1v2 between rows 0 and 40: 3/4 of the nearer row, rounding bias 1
	// above and 2 below.
	u = &upsampler{stride: 1, cw: 1, ch: 2, hs: 1, vs: 2, w: 1}
	col := []uint8{0, 40}
	var got []uint8
	for y := range 4 {
		u.row(col, y, out)
		got = append(got, out[0])
	}
	if string(got) != string([]byte{0, 10, 30, 40}) {
		t.Fatalf("h1v2: %v", got)
	}
}

// TestLazyColumns checks that converting only the columns a resize reads
// gives the same pixels as converting whole rows, for every subsampling.
func TestLazyColumns(t *testing.T) {
	w, h := 37, 21
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		im := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
		for i := range im.Y {
			im.Y[i] = uint8(i * 7)
		}
		for i := range im.Cb {
			im.Cb[i], im.Cr[i] = uint8(i*13), uint8(255-i*11)
		}
		full, part := ycbcrMat(im), ycbcrMat(im)
		p := newPlan(w, h, 11, 5, 3)
		p.useColumns(part)
		if len(part.cols) == 0 || len(part.cols) == w {
			t.Fatalf("%v: columns %v", ratio, part.cols)
		}
		for y := range h {
			a, b := full.row8(y), part.row8(y)
			for _, x := range part.cols {
				if string(a[3*x:3*x+3]) != string(b[3*x:3*x+3]) {
					t.Fatalf("%v: (%d,%d) %v vs %v", ratio, x, y, a[3*x:3*x+3], b[3*x:3*x+3])
				}
			}
		}
	}
}

// TestJPEGMatchesImageJPEGOn444 compares with image/jpeg where no
// upsampling is involved: only the colour conversion rounding differs.
func TestJPEGMatchesImageJPEGOn444(t *testing.T) {
	src := photo(40, 30)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ycc := img.(*image.YCbCr)
	ycc.SubsampleRatio = image.YCbCrSubsampleRatio444
	ycc.Cb = make([]uint8, len(ycc.Y))
	ycc.Cr = make([]uint8, len(ycc.Y))
	ycc.CStride = ycc.YStride
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*5), uint8(i*3)
	}
	m := ycbcrMat(ycc)
	for y := range 30 {
		row := m.row8(y)
		for x := range 40 {
			r, g, bl, _ := ycc.At(x, y).RGBA()
			want := []int{int(bl >> 8), int(g >> 8), int(r >> 8)}
			for k := range 3 {
				if d := int(row[3*x+k]) - want[k]; d < -1 || d > 1 {
					t.Fatalf("(%d,%d) channel %d: %d vs image/color %d", x, y, k, row[3*x+k], want[k])
				}
			}
		}
	}
}

func TestCMYK(t *testing.T) {
	// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R on libjpeg's inverted CMYK: pure
	// red (C=0 M=Y=255 K=0) comes out as B=1 G=1 R=255.
	im := image.NewCMYK(image.Rect(0, 0, 2, 1))
	im.Pix = []uint8{0, 255, 255, 0, 0, 0, 0, 255}
	m := cmykMat(im)
	if got := m.row8(0); string(got) != string([]byte{1, 1, 255, 0, 0, 0}) {
		t.Fatalf("CMYK: %v", got)
	}
}

func TestGenericMat(t *testing.T) {
	im := image.NewRGBA64(image.Rect(0, 0, 1, 1))
	im.Pix = []uint8{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xff, 0xff}
	if got := genericMat(im, 3, true).row16(0); got[0] != 0x9abc || got[1] != 0x5678 || got[2] != 0x1234 {
		t.Fatalf("16-bit BGR: %#x", got)
	}
	if got := genericMat(im, 3, false).row8(0); string(got) != string([]byte{0x9a, 0x56, 0x12}) {
		t.Fatalf("8-bit BGR: %#x", got)
	}
	if got := genericMat(im, 1, false).row8(0); len(got) != 1 {
		t.Fatalf("grey: %v", got)
	}
}
