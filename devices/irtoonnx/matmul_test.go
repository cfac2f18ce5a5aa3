package irtoonnx

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// refMatMul multiplies batched matrices with NumPy broadcasting and the
// spec's 1-D rules, after the transposes.
func refMatMul(a []float32, as []int64, b []float32, bs []int64, ta, tb bool) ([]float32, []int64) {
	// transpose in place of copies
	tr := func(v []float32, s []int64) ([]float32, []int64) {
		r := len(s)
		ns := slices.Clone(s)
		ns[r-2], ns[r-1] = s[r-1], s[r-2]
		out := make([]float32, len(v))
		for i := range v {
			idx := refUnravel(int64(i), s)
			idx[r-2], idx[r-1] = idx[r-1], idx[r-2]
			st := refStrides(ns)
			var off int64
			for k := range idx {
				off += idx[k] * st[k]
			}
			out[off] = v[i]
		}
		return out, ns
	}
	if ta && len(as) > 1 {
		a, as = tr(a, as)
	}
	if tb && len(bs) > 1 {
		b, bs = tr(b, bs)
	}
	dropA, dropB := len(as) == 1, len(bs) == 1
	if dropA {
		as = []int64{1, as[0]}
	}
	if dropB {
		bs = []int64{bs[0], 1}
	}
	for len(as) < len(bs) {
		as = append([]int64{1}, as...)
	}
	for len(bs) < len(as) {
		bs = append([]int64{1}, bs...)
	}
	r := len(as)
	batch := make([]int64, r-2)
	for i := range batch {
		batch[i] = max(as[i], bs[i])
	}
	M, K, N := as[r-2], as[r-1], bs[r-1]
	os := append(slices.Clone(batch), M, N)
	out := make([]float32, refNum(os))
	ast, bst := refStrides(as), refStrides(bs)
	for o := range out {
		idx := refUnravel(int64(o), os)
		var sum float32
		for k := range K {
			var ao, bo int64
			for i := range batch {
				ao += min(idx[i], as[i]-1) * ast[i]
				bo += min(idx[i], bs[i]-1) * bst[i]
			}
			sum += a[ao+idx[r-2]*ast[r-2]+k] * b[bo+k*bst[r-2]+idx[r-1]]
		}
		out[o] = sum
	}
	if dropA {
		os = append(os[:r-2], os[r-1])
	}
	if dropB {
		os = os[:len(os)-1]
	}
	return out, os
}

// dimsStr writes dims as IR's shape syntax ("2,3").
func dimsStr(d []int64) string {
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

func TestMatMul(t *testing.T) {
	for _, tc := range []struct {
		as, bs []int64
		ta, tb bool
		dynA   string
	}{
		{[]int64{3, 4}, []int64{4, 5}, false, false, ""},
		{[]int64{4, 3}, []int64{4, 5}, true, false, ""},
		{[]int64{2, 3, 4}, []int64{5, 4}, false, true, "?,3,4"},
		{[]int64{2, 1, 4, 3}, []int64{3, 5, 4}, true, true, ""},
		{[]int64{4}, []int64{2, 4, 5}, true, false, ""},
		{[]int64{2, 3, 4}, []int64{4}, false, true, ""},
		{[]int64{4}, []int64{4}, false, false, ""},
	} {
		t.Run(fmt.Sprint(tc.as, tc.bs, tc.ta, tc.tb), func(t *testing.T) {
			a, b := refSeq(refNum(tc.as)), refSeq(refNum(tc.bs) + 3)[3:]
			want, ws := refMatMul(a, tc.as, b, tc.bs, tc.ta, tc.tb)
			n := irtest.New("mm")
			shA := tc.dynA
			if shA == "" {
				shA = dimsStr(tc.as)
			}
			pa := n.Parameter("a", irmodel.F32, shA)
			pb := n.F32(tc.bs, b...)
			y := n.Op("MatMul", "opset1", map[string]string{"transpose_a": fmt.Sprint(tc.ta), "transpose_b": fmt.Sprint(tc.tb)},
				[]irtest.Out{pa, pb}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(ws), Names: "y"})
			n.Result(y[0], "r")
			out := run(t, n, f32("a", tc.as, a...))["y"]
			if !slices.Equal(out.shape, ws) {
				t.Fatalf("shape %v, want %v", out.shape, ws)
			}
			near(t, "MatMul", out.F32(), want, 1e-5)
		})
	}
}
