package irtoonnx

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// ctcGreedyRef decodes data [T, N, C] as the spec says: per sequence, the
// best class of each masked frame, blanks (C-1) dropped, repeats merged
// when asked; the rest of the row -1.
func ctcGreedyRef(data, mask []float32, T, N, C int, merge bool) []float32 {
	out := slices.Repeat([]float32{-1}, N*T)
	for n := range N {
		k, prev := 0, -1
		for t := range T {
			best := 0
			for c := range C {
				if data[(t*N+n)*C+c] > data[(t*N+n)*C+best] {
					best = c
				}
			}
			if mask[t*N+n] != 0 && best != C-1 && !(merge && best == prev) {
				out[n*T+k] = float32(best)
				k++
			}
			prev = best
		}
	}
	return out
}

func TestCTCGreedyDecoder(t *testing.T) {
	const T, N, C = 7, 3, 4
	// Best classes per frame (time-major), as rows per sequence:
	// seq 0: 1 1 3 1 2 2 0, seq 1: 3 3 0 0 3 2 2 (mask 5), seq 2: 2 1 1 1 3 1 0 (mask 0).
	best := [N][T]int{{1, 1, 3, 1, 2, 2, 0}, {3, 3, 0, 0, 3, 2, 2}, {2, 1, 1, 1, 3, 1, 0}}
	lens := [N]int{7, 5, 0}
	data := make([]float32, T*N*C)
	mask := make([]float32, T*N)
	for tt := range T {
		for n := range N {
			for c := range C {
				data[(tt*N+n)*C+c] = float32((tt+n+c)%3) * 0.1
			}
			data[(tt*N+n)*C+best[n][tt]] = 5
			if tt < lens[n] {
				mask[tt*N+n] = 1
			}
		}
	}
	for _, merge := range []bool{true, false} {
		t.Run(fmt.Sprint("merge ", merge), func(t *testing.T) {
			n := irtest.New("ctc")
			d := n.Parameter("data", irmodel.F32, "?,?,4")
			m := n.Parameter("mask", irmodel.F32, "?,?")
			y := n.Op("CTCGreedyDecoder", "opset1", map[string]string{"ctc_merge_repeated": fmt.Sprint(merge)}, []irtest.Out{d, m},
				irtest.Port{Type: irmodel.F32, Shape: "?,?,1,1", Names: "y"})
			n.Result(y[0], "out")
			res := run(t, n, f32("data", []int64{T, N, C}, data...), f32("mask", []int64{T, N}, mask...))["y"]
			if !slices.Equal(res.shape, []int64{N, T, 1, 1}) {
				t.Fatalf("shape %v", res.shape)
			}
			near(t, "decoded", res.F32(), ctcGreedyRef(data, mask, T, N, C, merge), 0)
		})
	}
}
