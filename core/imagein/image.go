package imagein

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

// mat is a decoded image the way cv::imdecode(IMREAD_UNCHANGED) returns it:
// interleaved channels in B, G, R(, A) order, 8 or 16 bits a value.
type mat struct {
	w, h, c int
	p8      []uint8  // 8-bit images
	p16     []uint16 // 16-bit images (PNG only)

	// lazy, when set, makes 8-bit row y on demand (p8 is then nil): a
	// resize reads a few rows of a large JPEG only.
	lazy func(y int, dst []uint8)
	rows [][]uint8 // the rows made so far
	// cols, when set, lists the only pixel columns lazy rows need.
	cols []int
}

// row8 returns row y of an 8-bit image.
func (m *mat) row8(y int) []uint8 {
	n := m.w * m.c
	if m.lazy == nil {
		return m.p8[y*n : (y+1)*n]
	}
	if m.rows[y] == nil {
		r := make([]uint8, n)
		m.lazy(y, r)
		m.rows[y] = r
	}
	return m.rows[y]
}

// row16 returns row y of a 16-bit image.
func (m *mat) row16(y int) []uint16 {
	n := m.w * m.c
	return m.p16[y*n : (y+1)*n]
}

// is16 reports a 16-bit image.
func (m *mat) is16() bool { return m.p16 != nil }

// OpenCV's default limits on a decoded image (CV_IO_MAX_IMAGE_WIDTH,
// _HEIGHT and _PIXELS in imgcodecs' validateInputImageSize); imdecode fails
// above them.
const (
	maxSide   = 1 << 20
	maxPixels = 1 << 30
)

var (
	pngSig  = []byte("\x89PNG\r\n\x1a\n")
	jpegSig = []byte{0xff, 0xd8, 0xff}
)

// decodeImage decodes a JPEG or PNG image. OVMS's OpenCV also reads BMP,
// TIFF, WebP and other formats; this package answers them as unparsable.
func decodeImage(b []byte) (*mat, error) {
	switch {
	case bytes.HasPrefix(b, pngSig):
		return decodePNG(b)
	case bytes.HasPrefix(b, jpegSig):
		return decodeJPEG(b)
	}
	return nil, errors.New("not a JPEG or PNG image")
}

// checkSize rejects what OpenCV's validateInputImageSize rejects.
func checkSize(cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxSide || cfg.Height > maxSide ||
		int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return fmt.Errorf("image size %dx%d is out of OpenCV's limits", cfg.Width, cfg.Height)
	}
	return nil
}

// decodeJPEG decodes with image/jpeg within OpenCV's size limits.
func decodeJPEG(b []byte) (*mat, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if err := checkSize(cfg); err != nil {
		return nil, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	// OpenCV's JpegDecoder: one channel for greyscale, otherwise BGR (CMYK
	// included).
	switch im := img.(type) {
	case *image.Gray:
		return grayMat(im), nil
	case *image.YCbCr:
		return ycbcrMat(im), nil
	case *image.CMYK:
		return cmykMat(im), nil
	}
	return genericMat(img, 3, false), nil
}

// newMat allocates an image of w x h pixels of c channels.
func newMat(w, h, c int, d16 bool) *mat {
	m := &mat{w: w, h: h, c: c}
	if d16 {
		m.p16 = make([]uint16, w*h*c)
	} else {
		m.p8 = make([]uint8, w*h*c)
	}
	return m
}

// grayMat copies an 8-bit grey image.
func grayMat(im *image.Gray) *mat {
	r := im.Rect
	m := newMat(r.Dx(), r.Dy(), 1, false)
	for y := 0; y < m.h; y++ {
		copy(m.p8[y*m.w:(y+1)*m.w], im.Pix[y*im.Stride:])
	}
	return m
}

// rgbaMat converts 8-bit RGBA or NRGBA pixels (taken as stored, i.e.
// opaque or not premultiplied) to c channels: grey (R), BGR or BGRA.
func rgbaMat(pix []uint8, stride int, r image.Rectangle, c int) *mat {
	m := newMat(r.Dx(), r.Dy(), c, false)
	for y := 0; y < m.h; y++ {
		src := pix[y*stride : y*stride+4*m.w]
		dst := m.p8[y*m.w*c : (y+1)*m.w*c]
		for x := 0; x < m.w; x++ {
			s := src[4*x : 4*x+4 : 4*x+4]
			switch c {
			case 1:
				dst[x] = s[0]
			case 3:
				dst[3*x], dst[3*x+1], dst[3*x+2] = s[2], s[1], s[0]
			default:
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = s[2], s[1], s[0], s[3]
			}
		}
	}
	return m
}

// genericMat converts any image through its colour model; the fast paths
// above cover what image/png and image/jpeg return.
func genericMat(img image.Image, c int, d16 bool) *mat {
	r := img.Bounds()
	m := newMat(r.Dx(), r.Dy(), c, d16)
	for y := 0; y < m.h; y++ {
		for x := 0; x < m.w; x++ {
			p := color.NRGBA64Model.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA64)
			v := [4]uint16{p.B, p.G, p.R, p.A}
			if c == 1 {
				v[0] = color.Gray16Model.Convert(p).(color.Gray16).Y
			}
			for k := 0; k < c; k++ {
				i := (y*m.w+x)*c + k
				if d16 {
					m.p16[i] = v[k]
				} else {
					m.p8[i] = uint8(v[k] >> 8)
				}
			}
		}
	}
	return m
}
