package imagein

import "image"

// OpenCV decodes JPEGs with libjpeg(-turbo), which upsamples subsampled
// chroma with its "fancy" triangle filter (jdsample.c: h2v1, h2v2 and h1v2
// fancy_upsample) and converts YCbCr with 16-bit fixed-point tables
// (jdcolor.c). image/jpeg gives the raw planes; both steps are redone here
// the libjpeg way so that colour edges match OVMS. The DCT itself is
// image/jpeg's, so values may still differ by a level or two.

const fixOne = 1 << 16

func fix(x float64) int32 { return int32(x*fixOne + 0.5) }

var crR, cbB, crG, cbG [256]int32

func init() {
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + fixOne/2) >> 16
		cbB[i] = (fix(1.77200)*x + fixOne/2) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + fixOne/2
	}
}

func clamp8(v int32) uint8 { return uint8(min(max(v, 0), 255)) }

// ycbcrMat converts to BGR with libjpeg's upsampling and colour tables.
// Rows are converted when first read.
func ycbcrMat(im *image.YCbCr) *mat {
	w, h := im.Rect.Dx(), im.Rect.Dy()
	m := &mat{w: w, h: h, c: 3, rows: make([][]uint8, h)}
	hs, vs := 1, 1 // chroma subsampling factors
	switch im.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio411:
		hs = 4
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	u := &upsampler{stride: im.CStride, cw: (w + hs - 1) / hs, ch: (h + vs - 1) / vs, hs: hs, vs: vs, w: w}
	u.sums = make([]int32, u.cw)
	cb := make([]uint8, w+4)
	cr := make([]uint8, w+4)
	m.lazy = func(y int, dst []uint8) {
		yrow := im.Y[y*im.YStride : y*im.YStride+w]
		if m.cols != nil { // only the columns a resize reads
			b0, b1, bb := u.rows(im.Cb, y)
			r0, r1, rb := u.rows(im.Cr, y)
			for _, x := range m.cols {
				ycc(dst[3*x:3*x+3], yrow[x], u.point(b0, b1, bb, x), u.point(r0, r1, rb, x))
			}
			return
		}
		u.row(im.Cb, y, cb)
		u.row(im.Cr, y, cr)
		dst, cb, cr := dst[:3*w], cb[:w], cr[:w]
		for x, yy := range yrow {
			Y, b, r := int32(yy), cb[x], cr[x]
			dst[3*x] = clamp8(Y + cbB[b])
			dst[3*x+1] = clamp8(Y + (cbG[b]+crG[r])>>16)
			dst[3*x+2] = clamp8(Y + crR[r])
		}
	}
	return m
}

// ycc writes the BGR of one pixel (jdcolor.c ycc_rgb_convert).
func ycc(d []uint8, yy, b, r uint8) {
	Y := int32(yy)
	d[0] = clamp8(Y + cbB[b])
	d[1] = clamp8(Y + (cbG[b]+crG[r])>>16)
	d[2] = clamp8(Y + crR[r])
}

// upsampler brings one chroma plane to full size, row by row.
type upsampler struct {
	stride, cw, ch, hs, vs, w int
	sums                      []int32
}

// rows returns the chroma row of image row y, the nearer other chroma row
// (above for even rows, below for odd ones, repeated at the edges) and the
// h1v2 rounding bias.
func (u *upsampler) rows(p []uint8, y int) (r0, r1 []uint8, bias int32) {
	cy := y / u.vs
	ctx, bias := cy-1, int32(1)
	if y%2 == 1 {
		ctx, bias = cy+1, 2
	}
	ctx = min(max(ctx, 0), u.ch-1)
	return p[cy*u.stride : cy*u.stride+u.cw], p[ctx*u.stride : ctx*u.stride+u.cw], bias
}

// point is the chroma of column x, what row writes at out[x].
func (u *upsampler) point(r0, r1 []uint8, bias int32, x int) uint8 {
	last := u.cw - 1
	switch {
	case u.hs == 2 && u.cw <= 2: // h2v1_upsample, h2v2_upsample
		return r0[x>>1]
	case u.hs == 2 && u.vs == 2:
		i := x >> 1
		sum := func(i int) int32 { i = min(max(i, 0), last); return 3*int32(r0[i]) + int32(r1[i]) }
		if x&1 == 0 {
			return uint8((3*sum(i) + sum(i-1) + 8) >> 4)
		}
		return uint8((3*sum(i) + sum(i+1) + 7) >> 4)
	case u.hs == 2:
		i := x >> 1
		if x&1 == 0 {
			return uint8((3*int32(r0[i]) + int32(r0[max(i-1, 0)]) + 1) >> 2)
		}
		return uint8((3*int32(r0[i]) + int32(r0[min(i+1, last)]) + 2) >> 2)
	case u.hs == 1 && u.vs == 2:
		return uint8((3*int32(r0[x]) + int32(r1[x]) + bias) >> 2)
	}
	return r0[x/u.hs]
}

// row writes the chroma of image row y, w values, into out.
func (u *upsampler) row(p []uint8, y int, out []uint8) {
	w := u.w
	r0, r1, bias := u.rows(p, y)
	switch {
	case u.hs == 2 && u.cw <= 2: // libjpeg's fancy filters need 3 columns
		for x := range w {
			out[x] = r0[x>>1]
		}
	case u.hs == 2 && u.vs == 2: // h2v2_fancy_upsample
		s := u.sums
		for i := range s {
			s[i] = 3*int32(r0[i]) + int32(r1[i])
		}
		fancyH(s, out, w, 8, 7, 4)
	case u.hs == 2: // h2v1_fancy_upsample
		s := u.sums
		for i := range s {
			s[i] = int32(r0[i])
		}
		fancyH(s, out, w, 1, 2, 2)
	case u.hs == 1 && u.vs == 2: // h1v2_fancy_upsample
		for x := range w {
			out[x] = uint8((3*int32(r0[x]) + int32(r1[x]) + bias) >> 2)
		}
	case u.hs == 1:
		copy(out[:w], r0)
	default: // 4:1:1 and 4:1:0 by replication (int_upsample)
		for x := range w {
			out[x] = r0[x/u.hs]
		}
	}
}

// fancyH doubles s horizontally with libjpeg's triangle filter: the output
// pair of input i is (3*s[i] + s[i-1] + b0) >> sh and
// (3*s[i] + s[i+1] + b1) >> sh, the edges repeating the edge value.
func fancyH(s []int32, out []uint8, w int, b0, b1 int32, sh uint) {
	n := len(s)
	for i := range n {
		if 2*i >= w {
			break
		}
		c := 3 * s[i]
		l, r := s[max(i-1, 0)], s[min(i+1, n-1)]
		out[2*i] = uint8((c + l + b0) >> sh)
		out[2*i+1] = uint8((c + r + b1) >> sh)
	}
}

// cmykMat converts to BGR the way OpenCV's icvCvt_CMYK2BGR_8u_C4C3R does
// with libjpeg's (Adobe, inverted) CMYK; image/jpeg has already inverted it.
func cmykMat(im *image.CMYK) *mat {
	w, h := im.Rect.Dx(), im.Rect.Dy()
	m := newMat(w, h, 3, false)
	for y := 0; y < h; y++ {
		src := im.Pix[y*im.Stride : y*im.Stride+4*w]
		dst := m.p8[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			c, mg, yl, k := int32(src[4*x]), int32(src[4*x+1]), int32(src[4*x+2]), 255-int32(src[4*x+3])
			dst[3*x] = uint8(k - (yl*k)>>8)
			dst[3*x+1] = uint8(k - (mg*k)>>8)
			dst[3*x+2] = uint8(k - (c*k)>>8)
		}
	}
	return m
}
