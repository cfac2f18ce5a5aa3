package f16

import (
	"math"
	"testing"
)

func TestHalfRoundTrip(t *testing.T) {
	for _, c := range []struct {
		f float32
		h uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {0.5, 0x3800},
		{float32(math.Inf(1)), 0x7c00}, {1e6, 0x7c00}, {5.960464477539063e-08, 0x0001}, {6.103515625e-05, 0x0400},
	} {
		if got := Float32ToHalf(c.f); got != c.h {
			t.Errorf("Float32ToHalf(%g) = %#x, want %#x", c.f, got, c.h)
		}
		if c.f != 1e6 {
			if back := HalfToFloat32(c.h); back != c.f {
				t.Errorf("HalfToFloat32(%#x) = %g, want %g", c.h, back, c.f)
			}
		}
	}
	if !math.IsNaN(float64(HalfToFloat32(Float32ToHalf(float32(math.NaN()))))) {
		t.Error("NaN lost")
	}
	// Every half value survives half -> float32 -> half.
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := Float32ToHalf(f); got != uint16(h) {
			t.Fatalf("half %#x -> %g -> %#x", h, f, got)
		}
	}
}

func TestBFloat16(t *testing.T) {
	if got := Float32ToBFloat16(1.5); got != 0x3fc0 || BFloat16ToFloat32(got) != 1.5 {
		t.Errorf("bf16(1.5) = %#x", got)
	}
	if got := Float32ToBFloat16(1.00390625); got != 0x3f80 { // ties to even
		t.Errorf("bf16 tie = %#x", got)
	}
}
