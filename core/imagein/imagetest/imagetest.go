// Package imagetest builds hostile images for tests of the image input path:
// JPEGs whose headers lie about their size and PNGs of zeros that inflate to
// gigabytes. It holds no test logic, only the encoders both the imagein unit
// tests and the integration suite use.
package imagetest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
)

// PNG colour types (IHDR byte 9) the builders take.
const (
	Grey = 0 // one channel
	RGB  = 2 // three channels
)

// JPEGBomb returns a baseline JPEG of a few hundred bytes whose frame
// header claims w x h pixels: a real 16x16 image with its SOF0 dimensions
// patched and its scan cut short, so that only the header is believable.
func JPEGBomb(w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		if i%4 == 0 || i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	sof, sos := bytes.Index(b.Bytes(), []byte{0xff, 0xc0}), bytes.Index(b.Bytes(), []byte{0xff, 0xda})
	if sof < 0 || sos < 0 {
		return nil, errors.New("no SOF0 or SOS in image/jpeg's output")
	}
	out := append([]byte(nil), b.Bytes()[:sos+20]...)
	binary.BigEndian.PutUint16(out[sof+5:], uint16(h))
	binary.BigEndian.PutUint16(out[sof+7:], uint16(w))
	return out, nil
}

// ZerosPNG is a valid w x h 8-bit PNG of zeros of colorType (Grey or RGB),
// compressed row by row: a few hundred KB to a few MB that decode to up to
// gigabytes, built without holding the raw pixels.
func ZerosPNG(w, h, colorType int) []byte {
	bpp := map[int]int{Grey: 1, RGB: 3}[colorType]
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 1+w*bpp) // filter byte 0, then zeros
	for range h {
		zw.Write(row)
	}
	zw.Close()
	return PNG(PNGHeader{Width: w, Height: h, ColorType: colorType}, z.Bytes())
}

// PNGHeader is what a PNG's IHDR chunk says, and its tRNS chunk if any.
type PNGHeader struct {
	Width, Height int
	Depth         int  // bits per sample; 0 means 8
	ColorType     int  // Grey, RGB, or any other PNG colour type
	Interlace     bool // Adam7 (image/png writes none)
	TRNS          []byte
}

// PNG assembles a PNG from its header and its zlib-compressed, filtered
// scanlines (idat), for the headers image/png never writes.
func PNG(h PNGHeader, idat []byte) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), data...)))
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(h.Width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h.Height))
	ihdr[8], ihdr[9] = byte(h.Depth), byte(h.ColorType)
	if h.Depth == 0 {
		ihdr[8] = 8
	}
	if h.Interlace {
		ihdr[12] = 1
	}
	chunk("IHDR", ihdr)
	if h.TRNS != nil {
		chunk("tRNS", h.TRNS)
	}
	chunk("IDAT", idat)
	chunk("IEND", nil)
	return out.Bytes()
}
