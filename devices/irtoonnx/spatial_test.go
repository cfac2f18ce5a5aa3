package irtoonnx

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// refDepthToSpace is the spec's formula, element by element: output
// [N, C', D1*bs, ...]; the input channel of output (c', d*bs+b...) is
// b_flat*C' + c' (blocks_first) or c'*bs^K + b_flat (depth_first).
func refDepthToSpace(x []float32, xs []int64, bs int64, depthFirst bool) ([]float32, []int64) {
	k := len(xs) - 2
	bk := int64(1)
	for range k {
		bk *= bs
	}
	os := []int64{xs[0], xs[1] / bk}
	for i := range k {
		os = append(os, xs[2+i]*bs)
	}
	out := make([]float32, refNum(os))
	xst := refStrides(xs)
	for o := range out {
		oi := refUnravel(int64(o), os)
		var bflat int64
		off := oi[0] * xst[0]
		for i := range k {
			bflat = bflat*bs + oi[2+i]%bs
			off += oi[2+i] / bs * xst[2+i]
		}
		ch := bflat*os[1] + oi[1]
		if depthFirst {
			ch = oi[1]*bk + bflat
		}
		out[o] = x[off+ch*xst[1]]
	}
	return out, os
}

func TestDepthToSpaceAndSpaceToDepth(t *testing.T) {
	for _, xs := range [][]int64{{1, 8, 3}, {2, 8, 2, 3}, {1, 16, 2, 1, 2}} {
		for _, mode := range []string{"blocks_first", "depth_first"} {
			t.Run(fmt.Sprint(xs, mode), func(t *testing.T) {
				x := refSeq(refNum(xs))
				for i := range x {
					x[i] = float32(i)
				}
				want, os := refDepthToSpace(x, xs, 2, mode == "depth_first")
				sh := dimsStr(xs)
				if len(xs) == 4 {
					sh = "?,8,?,?"
				}
				n := irtest.New("d2s")
				px := n.Parameter("x", irmodel.F32, sh)
				y := n.Op("DepthToSpace", "opset1", map[string]string{"block_size": "2", "mode": mode}, []irtest.Out{px}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(os), Names: "y"})
				n.Result(y[0], "r")
				out := run(t, n, f32("x", xs, x...))["y"]
				near(t, "DepthToSpace", out.F32(), want, 0)
				// SpaceToDepth inverts it.
				n = irtest.New("s2d")
				px = n.Parameter("x", irmodel.F32, dimsStr(os))
				y = n.Op("SpaceToDepth", "opset1", map[string]string{"block_size": "2", "mode": mode}, []irtest.Out{px}, irtest.Port{Type: irmodel.F32, Shape: dimsStr(xs), Names: "y"})
				n.Result(y[0], "r")
				back := run(t, n, f32("x", os, want...))["y"]
				if !slices.Equal(back.shape, xs) {
					t.Fatalf("shape %v", back.shape)
				}
				near(t, "SpaceToDepth", back.F32(), x, 0)
			})
		}
	}
}

func TestShuffleChannels(t *testing.T) {
	xs := []int64{2, 6, 2}
	x := make([]float32, refNum(xs))
	for i := range x {
		x[i] = float32(i)
	}
	for _, axis := range []string{"1", "-2"} {
		n := irtest.New("sc")
		px := n.Parameter("x", irmodel.F32, "?,6,?")
		y := n.Op("ShuffleChannels", "opset1", map[string]string{"axis": axis, "group": "3"}, []irtest.Out{px}, irtest.Port{Type: irmodel.F32, Shape: "-1,6,-1", Names: "y"})
		n.Result(y[0], "r")
		out := run(t, n, f32("x", xs, x...))["y"].F32()
		// channel c of the output is input channel (c%G)*(C/G) + c/G.
		want := make([]float32, len(x))
		for i := range want {
			idx := refUnravel(int64(i), xs)
			src := (idx[1]%3)*2 + idx[1]/3
			want[i] = x[(idx[0]*6+src)*2+idx[2]]
		}
		near(t, "ShuffleChannels axis "+axis, out, want, 0)
	}
}

func TestEinsum(t *testing.T) {
	a := refSeq(6)
	b := refSeq(12)
	n := irtest.New("es")
	pa := n.Parameter("a", irmodel.F32, "?,3")
	y := n.Op("Einsum", "opset7", map[string]string{"equation": "ij,jk->ki"}, []irtest.Out{pa, n.F32([]int64{3, 4}, b...)}, irtest.Port{Type: irmodel.F32, Shape: "4,-1", Names: "y"})
	n.Result(y[0], "r")
	out := run(t, n, f32("a", []int64{2, 3}, a...))["y"]
	want := make([]float32, 8)
	for k := range 4 {
		for i := range 2 {
			for j := range 3 {
				want[k*2+i] += a[i*3+j] * b[j*4+k]
			}
		}
	}
	near(t, "Einsum", out.F32(), want, 1e-5)
}

func TestDepthToSpaceInt64(t *testing.T) {
	// ONNX Runtime has no DepthToSpace/SpaceToDepth kernel for i32/i64:
	// 4-D integer inputs take the Reshape-Transpose-Reshape form.
	xs := []int64{1, 8, 2, 3}
	for _, mode := range []string{"blocks_first", "depth_first"} {
		x := make([]float32, refNum(xs))
		xi := make([]int64, len(x))
		for i := range x {
			x[i], xi[i] = float32(i), int64(i)
		}
		want, os := refDepthToSpace(x, xs, 2, mode == "depth_first")
		n := irtest.New("d2s")
		px := n.Parameter("x", irmodel.I64, dimsStr(xs))
		y := n.Op("DepthToSpace", "opset1", map[string]string{"block_size": "2", "mode": mode}, []irtest.Out{px}, irtest.Port{Type: irmodel.I64, Shape: dimsStr(os), Names: "y"})
		n.Result(y[0], "r")
		got := run(t, n, i64("x", xs, xi...))["y"].I64()
		for i := range want {
			if got[i] != int64(want[i]) {
				t.Fatalf("DepthToSpace i64 %s: %v, want %v", mode, got, want)
			}
		}
		n = irtest.New("s2d")
		px = n.Parameter("x", irmodel.I64, dimsStr(os))
		y = n.Op("SpaceToDepth", "opset1", map[string]string{"block_size": "2", "mode": mode}, []irtest.Out{px}, irtest.Port{Type: irmodel.I64, Shape: dimsStr(xs), Names: "y"})
		n.Result(y[0], "r")
		wi := make([]int64, len(want))
		for i, v := range want {
			wi[i] = int64(v)
		}
		if back := run(t, n, i64("x", os, wi...))["y"].I64(); !slices.Equal(back, xi) {
			t.Fatalf("SpaceToDepth i64 %s: %v", mode, back)
		}
	}
}
