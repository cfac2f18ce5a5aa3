package imagein

import "math"

// The resize is cv::resize(src, dst, Size(W, H)) with its default
// INTER_LINEAR, as OVMS's resizeMat calls it, redone after OpenCV 4.x's
// modules/imgproc/src/resize.cpp (hal::resize, resizeGeneric_,
// HResizeLinear, VResizeLinear):
//
//   - source coordinates use half-pixel centres, fx = (dx+0.5)*scale-0.5 in
//     float, with scale = 1/(dst/src) in double;
//   - columns left of 0 or right of the last one take the edge column with
//     weight 1; rows are clamped but keep their weights;
//   - CV_8U works in fixed point (11-bit weights) and rounds the way its
//     SSE2 vector path does, with the scalar path for the row tail;
//   - other types work in float (double for CV_64F) and round to nearest
//     even when the type is an integer;
//   - an exact 2x downscale of both sides is INTER_AREA, which for integer
//     types other than CV_8U rounds (a+b+c+d+2)>>2.

// plan holds the resize coefficients of one source and target size.
type plan struct {
	sw, sh, dw, dh, c int
	x0, x1            []int     // element offsets of the two taps of each target column
	alpha             []float32 // two weights per target column
	ialpha            []int32   // alpha in 11-bit fixed point (CV_8U)
	y0, y1            []int     // the two source rows of each target row
	beta              []float32 // two weights per target row
	ibeta             []int32
	area2             bool // exact 2x downscale of both sides
}

const coefScale = 1 << 11 // INTER_RESIZE_COEF_SCALE

func fixCoef(a float32) int32 { return int32(math.RoundToEven(float64(a * coefScale))) }

func newPlan(sw, sh, dw, dh, c int) *plan {
	p := &plan{sw: sw, sh: sh, dw: dw, dh: dh, c: c}
	scaleX := 1 / (float64(dw) / float64(sw))
	scaleY := 1 / (float64(dh) / float64(sh))
	isx, isy := math.Round(scaleX), math.Round(scaleY)
	p.area2 = isx == 2 && isy == 2 &&
		math.Abs(scaleX-isx) < 0x1p-52 && math.Abs(scaleY-isy) < 0x1p-52

	p.x0, p.x1 = make([]int, dw), make([]int, dw)
	p.alpha, p.ialpha = make([]float32, 2*dw), make([]int32, 2*dw)
	for dx := range dw {
		fx := float32((float64(dx)+0.5)*scaleX - 0.5)
		sx := int(math.Floor(float64(fx)))
		fx -= float32(sx)
		if sx < 0 {
			fx, sx = 0, 0
		}
		if sx >= sw-1 {
			fx, sx = 0, sw-1
		}
		p.x0[dx], p.x1[dx] = sx*c, min(sx+1, sw-1)*c
		p.alpha[2*dx], p.alpha[2*dx+1] = 1-fx, fx
		p.ialpha[2*dx], p.ialpha[2*dx+1] = fixCoef(1-fx), fixCoef(fx)
	}
	p.y0, p.y1 = make([]int, dh), make([]int, dh)
	p.beta, p.ibeta = make([]float32, 2*dh), make([]int32, 2*dh)
	for dy := range dh {
		fy := float32((float64(dy)+0.5)*scaleY - 0.5)
		sy := int(math.Floor(float64(fy)))
		fy -= float32(sy)
		p.y0[dy], p.y1[dy] = min(max(sy, 0), sh-1), min(max(sy+1, 0), sh-1)
		p.beta[2*dy], p.beta[2*dy+1] = 1-fy, fy
		p.ibeta[2*dy], p.ibeta[2*dy+1] = fixCoef(1-fy), fixCoef(fy)
	}
	return p
}

// useColumns tells a lazily decoded m that only the columns p reads are
// needed.
func (p *plan) useColumns(m *mat) {
	if m.lazy == nil {
		return
	}
	seen := make([]bool, p.sw)
	for dx := range p.dw {
		seen[p.x0[dx]/p.c] = true
		seen[p.x1[dx]/p.c] = true
	}
	m.cols = m.cols[:0]
	for x, ok := range seen {
		if ok {
			m.cols = append(m.cols, x)
		}
	}
}

// rowCache keeps the horizontally resized rows of the last two source rows,
// as resizeGeneric_ reuses them.
type rowCache[T any] struct {
	y   [2]int
	buf [2][]T
}

func newRowCache[T any](n int) *rowCache[T] {
	return &rowCache[T]{y: [2]int{-1, -1}, buf: [2][]T{make([]T, n), make([]T, n)}}
}

// get returns the row for source row y, computing it with fill into the
// slot not holding row keep.
func (rc *rowCache[T]) get(y, keep int, fill func(y int, dst []T)) []T {
	for i := range rc.y {
		if rc.y[i] == y {
			return rc.buf[i]
		}
	}
	i := 0
	if rc.y[0] == keep && keep >= 0 {
		i = 1
	}
	rc.y[i] = y
	fill(y, rc.buf[i])
	return rc.buf[i]
}

// resizeFloat resizes in F (float32, or float64 for FP64) and hands each
// target row to emit. Source values are first capped at sat (the
// saturating cast to the model precision). intArea selects INTER_AREA's
// integer rounding for an exact 2x downscale; in floating point that case
// gives the same values as the linear path.
func resizeFloat[F float32 | float64](m *mat, p *plan, sat uint16, intArea bool, emit func(dy int, row []F)) {
	n := p.dw * p.c
	out := make([]F, n)
	if intArea && p.area2 {
		resizeArea2(m, p, sat, func(dy int, row []int32) {
			for i, v := range row {
				out[i] = F(v)
			}
			emit(dy, out)
		})
		return
	}
	p.useColumns(m)
	hrow := func(y int, dst []F) {
		if m.is16() {
			hresize(m.row16(y), p, sat, dst)
		} else {
			hresize(m.row8(y), p, uint8(min(sat, math.MaxUint8)), dst)
		}
	}
	rc := newRowCache[F](n)
	for dy := range p.dh {
		r0 := rc.get(p.y0[dy], -1, hrow)
		r1 := rc.get(p.y1[dy], p.y0[dy], hrow)
		b0, b1 := F(p.beta[2*dy]), F(p.beta[2*dy+1])
		for i := range out {
			out[i] = F(r0[i]*b0) + F(r1[i]*b1)
		}
		emit(dy, out)
	}
}

// resizeU8 is the CV_8U fixed-point path.
func resizeU8(m *mat, p *plan, emit func(dy int, row []uint8)) {
	n := p.dw * p.c
	out := make([]uint8, n)
	p.useColumns(m)
	hrow := func(y int, dst []int32) {
		if m.is16() {
			hresizeFixed(m.row16(y), p, math.MaxUint8, dst)
		} else {
			hresizeFixed(m.row8(y), p, math.MaxUint8, dst)
		}
	}
	// VResizeLinearVec_32s8u handles 16 values a step while 16 are left,
	// then 8 a step while more than 8 are left; the scalar
	// FixedPtCast<int, uchar, 22> does the rest.
	vec := 0
	for vec+16 <= n {
		vec += 16
	}
	for vec < n-8 {
		vec += 8
	}
	rc := newRowCache[int32](n)
	for dy := range p.dh {
		r0 := rc.get(p.y0[dy], -1, hrow)
		r1 := rc.get(p.y1[dy], p.y0[dy], hrow)
		b0, b1 := p.ibeta[2*dy], p.ibeta[2*dy+1]
		for i := 0; i < vec; i++ {
			v := ((r0[i]>>4)*b0)>>16 + ((r1[i]>>4)*b1)>>16
			out[i] = clamp8((v + 2) >> 2)
		}
		for i := vec; i < n; i++ {
			out[i] = clamp8((r0[i]*b0 + r1[i]*b1 + 1<<21) >> 22)
		}
		emit(dy, out)
	}
}

// resizeArea2 is resizeAreaFast_ for an exact 2x downscale, in integers.
func resizeArea2(m *mat, p *plan, sat uint16, emit func(dy int, row []int32)) {
	out := make([]int32, p.dw*p.c)
	for dy := range p.dh {
		if m.is16() {
			area2Row(m.row16(2*dy), m.row16(2*dy+1), p.c, sat, out)
		} else {
			area2Row(m.row8(2*dy), m.row8(2*dy+1), p.c, uint8(min(sat, math.MaxUint8)), out)
		}
		emit(dy, out)
	}
}

// area2Row averages the 2x2 blocks of rows r0 and r1, rounding half up.
func area2Row[S uint8 | uint16](r0, r1 []S, c int, sat S, out []int32) {
	for i := range out {
		o := (i/c)*2*c + i%c
		s := int32(min(r0[o], sat)) + int32(min(r0[o+c], sat)) +
			int32(min(r1[o], sat)) + int32(min(r1[o+c], sat))
		out[i] = (s + 2) >> 2
	}
}

// hresize is HResizeLinear for the float types: two taps a column.
func hresize[S uint8 | uint16, F float32 | float64](src []S, p *plan, sat S, dst []F) {
	c := p.c
	for dx := range p.dw {
		a0, a1 := F(p.alpha[2*dx]), F(p.alpha[2*dx+1])
		s0 := src[p.x0[dx] : p.x0[dx]+c]
		s1 := src[p.x1[dx] : p.x1[dx]+c]
		d := dst[dx*c : dx*c+c]
		for k := range d {
			d[k] = F(F(min(s0[k], sat))*a0) + F(F(min(s1[k], sat))*a1)
		}
	}
}

// hresizeFixed is HResizeLinear for CV_8U: 11-bit fixed-point weights.
func hresizeFixed[S uint8 | uint16](src []S, p *plan, sat S, dst []int32) {
	c := p.c
	for dx := range p.dw {
		a0, a1 := p.ialpha[2*dx], p.ialpha[2*dx+1]
		s0 := src[p.x0[dx] : p.x0[dx]+c]
		s1 := src[p.x1[dx] : p.x1[dx]+c]
		d := dst[dx*c : dx*c+c]
		for k := range d {
			d[k] = int32(min(s0[k], sat))*a0 + int32(min(s1[k], sat))*a1
		}
	}
}
