package irtoonnx

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor/f16"
	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
)

// convertNet is Convert(x) to dst for x of type src and shape [2,3].
func convertNet(src, dst irmodel.ElementType) *irtest.Net {
	return opsNet("Convert", "opset1", map[string]string{"destination_type": string(dst)}, irtest.Port{Type: dst, Shape: "?,3"}, func(n *irtest.Net) []irtest.Out {
		return []irtest.Out{n.Parameter("x", src, "?,3")}
	})
}

func TestConvertTypes(t *testing.T) {
	xs := []float32{-2.7, -0.5, 0, 0.25, 2.7, 100}
	out := run(t, convertNet(irmodel.F32, irmodel.I32), f32("x", []int64{2, 3}, xs...))["y"]
	if got := out.I32(); !slices.Equal(got, []int32{-2, 0, 0, 0, 2, 100}) {
		t.Errorf("f32->i32: %v", got)
	}
	out = run(t, convertNet(irmodel.F32, irmodel.Boolean), f32("x", []int64{2, 3}, xs...))["y"]
	if !slices.Equal(out.raw, []byte{1, 1, 0, 1, 1, 1}) {
		t.Errorf("f32->boolean: %v", out.raw)
	}
	out = run(t, convertNet(irmodel.F32, irmodel.F16), f32("x", []int64{2, 3}, xs...))["y"]
	got := make([]float32, 6)
	for i := range got {
		got[i] = f16.HalfToFloat32(binary.LittleEndian.Uint16(out.raw[2*i:]))
	}
	near(t, "f32->f16", got, xs, 1e-3)
	out = run(t, convertNet(irmodel.U8, irmodel.F32), feed{"x", irmodel.U8, []int64{2, 3}, []byte{0, 1, 2, 127, 128, 255}})["y"]
	near(t, "u8->f32", out.F32(), []float32{0, 1, 2, 127, 128, 255}, 0)
	out = run(t, convertNet(irmodel.I64, irmodel.F32), i64("x", []int64{2, 3}, -3, 0, 5, 1<<20, -1<<20, 7))["y"]
	near(t, "i64->f32", out.F32(), []float32{-3, 0, 5, 1 << 20, -1 << 20, 7}, 0)
}

func TestConvertLikeTakesTheSecondInputsType(t *testing.T) {
	n := opsNet("ConvertLike", "opset1", nil, irtest.Port{Type: irmodel.I64, Shape: "2,3"}, func(n *irtest.Net) []irtest.Out {
		return []irtest.Out{n.Parameter("x", irmodel.F32, "2,3"), n.I64([]int64{1}, 0)}
	})
	out := run(t, n, f32("x", []int64{2, 3}, 1.9, -1.9, 3, 4, 5, 6))["y"]
	if got := out.I64(); !slices.Equal(got, []int64{1, -1, 3, 4, 5, 6}) {
		t.Errorf("ConvertLike: %v", got)
	}
}

func TestConvertUnsupported(t *testing.T) {
	if e := opsTranslateErr(t, convertNet(irmodel.F32, irmodel.U4)); !strings.Contains(e, `destination_type="u4"`) {
		t.Errorf("u4: %q", e)
	}
}

// decompressNet is y = x * W (f16 weights converted to f32) and
// z = x + (Convert(Wq) - zp) * scale, Wq of type wt ([2,3], packed as the
// .bin holds it) with zero point and scale per row ([2,1]).
func decompressNet(wt irmodel.ElementType, wq []byte, zp []byte, scale []float32, wf16 []float32) *irtest.Net {
	n := irtest.New("decompress")
	x := n.Parameter("x", irmodel.F32, "?,3")
	h := make([]byte, 0, 2*len(wf16))
	for _, v := range wf16 {
		h = binary.LittleEndian.AppendUint16(h, f16.Float32ToHalf(v))
	}
	w := n.Const(irmodel.F16, []int64{3}, h)
	wc := n.Op("Convert", "opset1", map[string]string{"destination_type": "f32"}, []irtest.Out{w}, irtest.Port{Type: irmodel.F32, Shape: "3"})
	y := n.Op("Multiply", "opset1", nil, []irtest.Out{x, wc[0]}, irtest.Port{Type: irmodel.F32, Shape: "?,3", Names: "y"})
	n.Result(y[0], "y/sink")

	q := n.Const(wt, []int64{2, 3}, wq)
	qc := n.Op("Convert", "opset1", map[string]string{"destination_type": "f32"}, []irtest.Out{q}, irtest.Port{Type: irmodel.F32, Shape: "2,3"})
	deq := qc[0]
	if zp != nil {
		z := n.Const(wt, []int64{2, 1}, zp)
		zc := n.Op("Convert", "opset1", map[string]string{"destination_type": "f32"}, []irtest.Out{z}, irtest.Port{Type: irmodel.F32, Shape: "2,1"})
		deq = n.Op("Subtract", "opset1", nil, []irtest.Out{deq, zc[0]}, irtest.Port{Type: irmodel.F32, Shape: "2,3"})[0]
	}
	s := n.F32([]int64{2, 1}, scale...)
	deq = n.Op("Multiply", "opset1", nil, []irtest.Out{deq, s}, irtest.Port{Type: irmodel.F32, Shape: "2,3"})[0]
	z := n.Op("Add", "opset1", nil, []irtest.Out{x, deq}, irtest.Port{Type: irmodel.F32, Shape: "2,3", Names: "z"})
	n.Result(z[0], "z/sink")
	return n
}

func TestWeightDecompressionPatterns(t *testing.T) {
	xs := []float32{1, 2, 3, -1, -2, -3}
	wf16 := []float32{0.5, -1.25, 3.001953125} // exact in f16
	scale := []float32{0.125, 0.5}
	cases := []struct {
		name string
		typ  irmodel.ElementType
		wq   []byte    // as the .bin holds it
		vals []float32 // the integer weights
		zp   []byte
		zps  []float32
	}{
		{"u8", irmodel.U8, []byte{0, 128, 255, 7, 8, 9}, []float32{0, 128, 255, 7, 8, 9}, []byte{128, 8}, []float32{128, 8}},
		{"i8", irmodel.I8, []byte{0x80, 0xff, 0x7f, 1, 2, 0xfe}, []float32{-128, -1, 127, 1, 2, -2}, nil, nil},
		// u4: two per byte, low nibble first; zero points 8 and 3.
		{"u4", irmodel.U4, []byte{0xf0, 0x87, 0x21}, []float32{0, 15, 7, 8, 1, 2}, []byte{0x38}, []float32{8, 3}},
		// i4 sign-extended: 0xf = -1, 0x8 = -8.
		{"i4", irmodel.I4, []byte{0xf8, 0x70, 0x21}, []float32{-8, -1, 0, 7, 1, 2}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, decompressNet(tc.typ, tc.wq, tc.zp, scale, wf16), f32("x", []int64{2, 3}, xs...))
			wantY := make([]float32, 6)
			wantZ := make([]float32, 6)
			for i := range xs {
				wantY[i] = xs[i] * wf16[i%3]
				w := tc.vals[i]
				if tc.zps != nil {
					w -= tc.zps[i/3]
				}
				wantZ[i] = xs[i] + w*scale[i/3]
			}
			near(t, "f16 weights", out["y"].F32(), wantY, 0)
			near(t, tc.name+" weights", out["z"].F32(), wantZ, 0)
		})
	}
}

// TestNoUnusedInitializers: a Const whose value a translator takes as an
// attribute (ReduceMean's axes at opset 13, Reshape's target shape) leaves
// no initializer behind that no node reads (ONNX Runtime logged a warning
// for each one at every load); the Consts nodes do read stay.
func TestNoUnusedInitializers(t *testing.T) {
	n := irtest.New("unused")
	x := n.Parameter("x", irmodel.F32, "1,4,2,2", "x")
	axes := n.I64([]int64{2}, 2, 3)
	mean := n.Op("ReduceMean", "opset1", map[string]string{"keep_dims": "false"}, []irtest.Out{x, axes},
		irtest.Port{Type: irmodel.F32, Shape: "1,4"})
	shape := n.I64([]int64{2}, 2, 2)
	r := n.Op("Reshape", "opset1", map[string]string{"special_zero": "false"}, []irtest.Out{mean[0], shape},
		irtest.Port{Type: irmodel.F32, Shape: "2,2"})
	bias := n.F32([]int64{1, 2}, 1, 2)
	y := n.Op("Add", "opset1", nil, []irtest.Out{r[0], bias}, irtest.Port{Type: irmodel.F32, Shape: "2,2", Names: "y"})
	n.Result(y[0], "y/sink_port_0")
	g := translateNet(t, n).Model.GetGraph()
	read := map[string]bool{}
	for _, node := range g.GetNode() {
		for _, in := range node.GetInput() {
			read[in] = true
		}
	}
	kept := 0
	for _, init := range g.GetInitializer() {
		if !read[init.GetName()] {
			t.Errorf("initializer %q %v is read by no node", init.GetName(), init.GetDims())
		}
		kept++
	}
	if kept == 0 {
		t.Error("the Add's constant was dropped too")
	}
	got := run(t, n, f32("x", []int64{1, 4, 2, 2}, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4))["y"].F32()
	if want := []float32{2, 4, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("y = %v, want %v", got, want)
	}
}
