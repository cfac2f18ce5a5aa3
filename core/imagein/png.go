package imagein

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
)

// pngInfo is what OpenCV's PngDecoder::readHeader (modules/imgcodecs/src/
// grfmt_png.cpp) looks at to choose the Mat type.
type pngInfo struct {
	depth, colorType int
	trns             bool
	interlaced       bool
}

// channels is the number of channels of the Mat OpenCV decodes with
// IMREAD_UNCHANGED: RGB and palette images get alpha (4) when a tRNS chunk
// is present, grey+alpha and RGBA get 4, grey (with or without tRNS) 1.
func (p pngInfo) channels() int {
	switch p.colorType {
	case 2, 3: // RGB, palette
		if p.trns {
			return 4
		}
		return 3
	case 4, 6: // grey+alpha, RGBA
		return 4
	}
	return 1
}

// readPNGHeader reads IHDR and looks for a tRNS chunk before the image data.
func readPNGHeader(b []byte) (pngInfo, error) {
	var p pngInfo
	seenIHDR := false
	for pos := len(pngSig); pos+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[pos:]))
		typ := string(b[pos+4 : pos+8])
		body := pos + 8
		if n < 0 || body+n > len(b) {
			break
		}
		switch typ {
		case "IHDR":
			if n < 13 {
				return p, errors.New("png: short IHDR")
			}
			p.depth, p.colorType = int(b[body+8]), int(b[body+9])
			p.interlaced = b[body+12] != 0
			seenIHDR = true
		case "tRNS":
			p.trns = true
		case "IDAT", "IEND":
			if !seenIHDR {
				return p, errors.New("png: missing IHDR")
			}
			return p, nil
		}
		pos = body + n + 4 // data and CRC
	}
	if !seenIHDR {
		return p, errors.New("png: missing IHDR")
	}
	return p, nil
}

// decodePNG decodes with image/png and lays the pixels out with the
// channels OpenCV would give the file's colour type.
func decodePNG(b []byte) (*mat, error) {
	info, err := readPNGHeader(b)
	if err != nil {
		return nil, err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if err := checkSize(cfg); err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c, d16 := info.channels(), info.depth == 16
	switch im := img.(type) {
	case *image.Gray:
		if c == 1 {
			return grayMat(im), nil
		}
	case *image.Gray16:
		if c == 1 {
			return gray16Mat(im), nil
		}
	case *image.Paletted:
		if !d16 {
			return palettedMat(im, c), nil
		}
	case *image.RGBA:
		if c == 3 && !d16 {
			return rgbaMat(im.Pix, im.Stride, im.Rect, 3), nil
		}
	case *image.NRGBA:
		if !d16 {
			return rgbaMat(im.Pix, im.Stride, im.Rect, c), nil
		}
	case *image.RGBA64:
		if c == 3 && d16 {
			return rgba64Mat(im.Pix, im.Stride, im.Rect, 3), nil
		}
	case *image.NRGBA64:
		if d16 {
			return rgba64Mat(im.Pix, im.Stride, im.Rect, c), nil
		}
	}
	return genericMat(img, c, d16), nil
}

// gray16Mat copies a 16-bit grey image.
func gray16Mat(im *image.Gray16) *mat {
	r := im.Rect
	m := newMat(r.Dx(), r.Dy(), 1, true)
	for y := 0; y < m.h; y++ {
		src := im.Pix[y*im.Stride:]
		dst := m.p16[y*m.w : (y+1)*m.w]
		for x := range dst {
			dst[x] = uint16(src[2*x])<<8 | uint16(src[2*x+1])
		}
	}
	return m
}

// rgba64Mat is rgbaMat for 16-bit big-endian RGBA64 or NRGBA64 pixels.
func rgba64Mat(pix []uint8, stride int, r image.Rectangle, c int) *mat {
	m := newMat(r.Dx(), r.Dy(), c, true)
	order := [4]int{2, 1, 0, 3} // BGRA from RGBA
	if c == 1 {
		order[0] = 0
	}
	for y := 0; y < m.h; y++ {
		src := pix[y*stride : y*stride+8*m.w]
		dst := m.p16[y*m.w*c : (y+1)*m.w*c]
		for x := 0; x < m.w; x++ {
			for k := 0; k < c; k++ {
				i := 8*x + 2*order[k]
				dst[x*c+k] = uint16(src[i])<<8 | uint16(src[i+1])
			}
		}
	}
	return m
}

// palettedMat expands a palette image to BGR, or BGRA with tRNS.
func palettedMat(im *image.Paletted, c int) *mat {
	var lut [256][4]uint8 // BGRA
	for i := range lut {
		col := color.NRGBA{A: 0xff}
		if i < len(im.Palette) {
			col = color.NRGBAModel.Convert(im.Palette[i]).(color.NRGBA)
		}
		lut[i] = [4]uint8{col.B, col.G, col.R, col.A}
	}
	r := im.Rect
	m := newMat(r.Dx(), r.Dy(), c, false)
	for y := 0; y < m.h; y++ {
		src := im.Pix[y*im.Stride : y*im.Stride+m.w]
		dst := m.p8[y*m.w*c : (y+1)*m.w*c]
		for x, idx := range src {
			e := &lut[idx]
			if c == 1 {
				dst[x] = e[2]
				continue
			}
			copy(dst[x*c:x*c+c], e[:c])
		}
	}
	return m
}
