package imagein

import (
	"bytes"
	"errors"
	"image/jpeg"
	"image/png"
)

// header is what an image's header tells before any pixel is decoded:
// the size and channels of the Mat OpenCV would make, and what decoding it
// here costs.
type header struct {
	w, h, c int
	d16     bool
	// decoder is an upper bound on the bytes image/jpeg or image/png
	// allocates for the pixels (planes, progressive coefficients, the
	// colour-converted image).
	decoder int64
	// lazy marks JPEGs whose BGR rows are made when a resize reads them.
	lazy bool
}

// readHeader reads an image's header with the checks decodeImage makes
// before it decodes the pixels, in the same order and with the same
// errors: an image whose header fails here fails decodeImage the same way.
func readHeader(b []byte) (header, error) {
	switch {
	case bytes.HasPrefix(b, pngSig):
		return pngHeader(b)
	case bytes.HasPrefix(b, jpegSig):
		return jpegHeader(b)
	}
	return header{}, errors.New("not a JPEG or PNG image")
}

// pngHeader is decodePNG up to the pixels.
func pngHeader(b []byte) (header, error) {
	info, err := readPNGHeader(b)
	if err != nil {
		return header{}, err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return header{}, err
	}
	if err := checkSize(cfg); err != nil {
		return header{}, err
	}
	hd := header{w: cfg.Width, h: cfg.Height, c: info.channels(), d16: info.depth == 16}
	// image/png's image: Gray, Gray16 or Paletted (one value a pixel),
	// otherwise (N)RGBA or (N)RGBA64 (four); grey with tRNS is NRGBA.
	bpp := int64(4)
	if info.colorType == 3 || (info.colorType == 0 && !info.trns) {
		bpp = 1
	}
	if hd.d16 {
		bpp *= 2
	}
	hd.decoder = pixels(hd) * bpp
	if info.interlaced { // each Adam7 pass is decoded into its own image first
		hd.decoder *= 2
	}
	// zlib's window, the current and previous scanlines.
	hd.decoder += decoderOverhead + 2*(int64(hd.w)*8+1)
	return hd, nil
}

// jpegHeader is decodeJPEG up to the pixels.
func jpegHeader(b []byte) (header, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return header{}, err
	}
	if err := checkSize(cfg); err != nil {
		return header{}, err
	}
	hd := header{w: cfg.Width, h: cfg.Height, c: 3}
	f, ok := scanJPEG(b)
	if !ok || len(f.comps) != 1 && len(f.comps) != 3 && len(f.comps) != 4 {
		// image/jpeg read a header this scan could not: assume the worst
		// (four progressive components at full resolution, converted).
		f = jpegFrame{progressive: true, comps: []jpegComp{{h: 1, v: 1}, {h: 1, v: 1}, {h: 1, v: 1}, {h: 1, v: 1}}}
	}
	if len(f.comps) == 1 {
		hd.c = 1
	}
	hd.decoder = f.cost(hd.w, hd.h) + decoderOverhead
	// decodeJPEG: YCbCr becomes BGR row by row (ycbcrMat); RGB, CMYK and
	// YCCK are converted whole.
	hd.lazy = len(f.comps) == 3 && !f.rgb()
	return hd, nil
}

// decoderOverhead bounds what a decoder allocates besides the pixels:
// buffered readers, Huffman tables, zlib's window.
const decoderOverhead = 64 << 10

// pixels is w*h.
func pixels(hd header) int64 { return int64(hd.w) * int64(hd.h) }

// cost bounds the bytes decoding the image allocates when rows of its rows
// are read (a resize reads at most two source rows a target row; rows <= 0
// means all): the decoder's, plus the BGR Mat.
func (hd header) cost(rows int) int64 {
	perPixel := int64(hd.c)
	if hd.d16 {
		perPixel *= 2
	}
	if !hd.lazy || rows <= 0 || rows > hd.h {
		rows = hd.h
	}
	mat := int64(rows) * int64(hd.w) * perPixel
	if hd.lazy {
		mat += int64(hd.h) * 24 // the row slices
	}
	return hd.decoder + mat
}

// jpegFrame is what image/jpeg's decoder sizes its buffers from.
type jpegFrame struct {
	progressive bool
	jfif        bool
	adobe       int // the APP14 transform; -1 without APP14
	comps       []jpegComp
}

type jpegComp struct {
	id   byte
	h, v int // sampling factors
}

// rgb is image/jpeg's isRGB: three components stored as RGB, which it
// converts to an RGBA image.
func (f jpegFrame) rgb() bool {
	if len(f.comps) != 3 || f.jfif {
		return false
	}
	return f.adobe == 0 || f.comps[0].id == 'R' && f.comps[1].id == 'G' && f.comps[2].id == 'B'
}

// cost bounds what image/jpeg allocates for a w x h frame (scan.go
// makeImg and the progressive coefficients; reader.go applyBlack and
// convertToRGB): one plane a component in whole MCUs, 256 bytes per 8x8
// block and component when progressive, and a 4-byte-a-pixel image for
// CMYK, YCCK and RGB.
func (f jpegFrame) cost(w, h int) int64 {
	hmax, vmax := 1, 1
	for _, c := range f.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	if len(f.comps) == 1 { // image/jpeg ignores a lone component's factors
		hmax, vmax = 1, 1
	}
	mxx := int64((w + 8*hmax - 1) / (8 * hmax))
	myy := int64((h + 8*vmax - 1) / (8 * vmax))
	var n int64
	for _, c := range f.comps {
		hi, vi := int64(c.h), int64(c.v)
		if len(f.comps) == 1 {
			hi, vi = 1, 1
		}
		blocks := mxx * myy * hi * vi
		n += blocks * 64
		if f.progressive {
			n += blocks * 256
		}
	}
	if len(f.comps) == 4 || f.rgb() {
		n += 4 * int64(w) * int64(h)
	}
	return n
}

// scanJPEG reads the markers before the first scan: JFIF (APP0), Adobe
// (APP14) and the frame header. It reports false when it finds no frame
// header before the scan or the data ends.
func scanJPEG(b []byte) (jpegFrame, bool) {
	f := jpegFrame{adobe: -1}
	found := false
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return f, false
		}
		m := b[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0xd8 || m == 0x01 || m >= 0xd0 && m <= 0xd7: // no length
			i += 2
			continue
		case m == 0xda: // SOS
			return f, found
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return f, false
		}
		seg := b[i+4 : i+2+n]
		switch {
		case m == 0xe0 && bytes.HasPrefix(seg, []byte("JFIF\x00")):
			f.jfif = true
		case m == 0xee && len(seg) >= 12 && bytes.HasPrefix(seg, []byte("Adobe")):
			f.adobe = int(seg[11])
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc: // SOFn
			if len(seg) < 6 || len(seg) < 6+3*int(seg[5]) {
				return f, false
			}
			f.progressive = m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce
			f.comps = f.comps[:0]
			for k := range int(seg[5]) {
				c := seg[6+3*k:]
				f.comps = append(f.comps, jpegComp{id: c[0], h: max(int(c[1]>>4), 1), v: max(int(c[1]&15), 1)})
			}
			found = true
		}
		i += 2 + n
	}
	return f, false
}
