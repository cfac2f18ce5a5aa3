package irtoonnx

// Go reference implementations from the OpenVINO specs, shared by the
// tests of the convolution, pooling, pad and movement families.

// refStrides are the row-major strides of shape.
func refStrides(shape []int64) []int64 {
	s := make([]int64, len(shape))
	p := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = p
		p *= shape[i]
	}
	return s
}

func refNum(shape []int64) int64 {
	p := int64(1)
	for _, d := range shape {
		p *= d
	}
	return p
}

// refUnravel is the multi-index of flat index i in shape.
func refUnravel(i int64, shape []int64) []int64 {
	idx := make([]int64, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		idx[k] = i % shape[k]
		i /= shape[k]
	}
	return idx
}

// refSeq is 0.1*(i+1) with alternating sign for n values.
func refSeq(n int64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%7+1) * 0.25
		if i%3 == 1 {
			v[i] = -v[i]
		}
	}
	return v
}

// refConv is the spec's convolution: x [N, C, D...], w [G*M, C/G, k...],
// explicit pads; output size floor((D + pb + pe - dk)/s) + 1.
func refConv(x []float32, xs []int64, w []float32, ws []int64, g int64, st, dil, pb, pe []int64) ([]float32, []int64) {
	n := len(xs) - 2
	os := []int64{xs[0], ws[0]}
	for i := range n {
		dk := (ws[2+i]-1)*dil[i] + 1
		os = append(os, (xs[2+i]+pb[i]+pe[i]-dk)/st[i]+1)
	}
	out := make([]float32, refNum(os))
	xst, wst := refStrides(xs), refStrides(ws)
	cin := ws[1]
	mPer := ws[0] / g
	ksh := ws[2:]
	for o := range out {
		oi := refUnravel(int64(o), os)
		m := oi[1]
		grp := m / mPer
		var sum float64
		for ci := range cin {
			for kf := range refNum(ksh) {
				ki := refUnravel(kf, ksh)
				xoff := oi[0]*xst[0] + (grp*cin+ci)*xst[1]
				ok := true
				for i := range n {
					p := oi[2+i]*st[i] + ki[i]*dil[i] - pb[i]
					if p < 0 || p >= xs[2+i] {
						ok = false
						break
					}
					xoff += p * xst[2+i]
				}
				if !ok {
					continue
				}
				woff := m*wst[0] + ci*wst[1]
				for i := range n {
					woff += ki[i] * wst[2+i]
				}
				sum += float64(x[xoff]) * float64(w[woff])
			}
		}
		out[o] = float32(sum)
	}
	return out, os
}

// refConvT is the spec's backprop data: x [N, G*C, D...], w [G*C, M, k...]
// (ONNX layout), output spatial size os; input position d and kernel
// position k add to output position d*s + k*dil - pb.
func refConvT(x []float32, xs []int64, w []float32, ws []int64, g int64, st, dil, pb []int64, osp []int64) ([]float32, []int64) {
	n := len(xs) - 2
	cPer := xs[1] / g
	m := ws[1]
	os := append([]int64{xs[0], g * m}, osp...)
	out := make([]float32, refNum(os))
	ost, wst := refStrides(os), refStrides(ws)
	for xi := range x {
		idx := refUnravel(int64(xi), xs)
		c := idx[1]
		grp := c / cPer
		for mm := range m {
			for kf := range refNum(ws[2:]) {
				ki := refUnravel(kf, ws[2:])
				off := idx[0]*ost[0] + (grp*m+mm)*ost[1]
				ok := true
				for i := range n {
					p := idx[2+i]*st[i] + ki[i]*dil[i] - pb[i]
					if p < 0 || p >= osp[i] {
						ok = false
						break
					}
					off += p * ost[2+i]
				}
				if !ok {
					continue
				}
				woff := c*wst[0] + mm*wst[1]
				for i := range n {
					woff += ki[i] * wst[2+i]
				}
				out[off] += x[xi] * w[woff]
			}
		}
	}
	return out, os
}
