package bench

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestHalfConversion(t *testing.T) {
	tests := []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},               // largest normal
		{6.103515625e-05, 0x0400},     // smallest normal
		{5.960464477539063e-08, 0x01}, // smallest subnormal
		{float32(math.Inf(1)), 0x7c00},
	}
	for _, tt := range tests {
		if got := float32ToHalf(tt.f); got != tt.bits {
			t.Errorf("float32ToHalf(%v) = %#04x, want %#04x", tt.f, got, tt.bits)
		}
		if got := halfToFloat32(tt.bits); got != tt.f {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", tt.bits, got, tt.f)
		}
	}
	if got := float32ToHalf(1e6); got != 0x7c00 {
		t.Errorf("overflow gives %#04x, want +inf", got)
	}
	if got := float32ToHalf(1 + 1.0/2048); got != 0x3c00 { // a tie rounds to even
		t.Errorf("tie gives %#04x, want 0x3c00", got)
	}
	if got := halfToFloat32(float32ToHalf(float32(math.NaN()))); !math.IsNaN(float64(got)) {
		t.Errorf("NaN gives %v", got)
	}
}

// Every numeric dtype: a random element, written as JSON text and read back
// with putNumber, gives the same bytes.
func TestJSONRoundTripPerDType(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range dtypes {
		if d.size == 0 {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			for range 50 {
				b := make([]byte, d.size)
				d.randomElement(rng, b)
				text := string(d.appendJSON(nil, b))
				var v float64
				switch text {
				case "true":
					v = 1
				case "false":
					v = 0
				default:
					var err error
					if v, err = parseFloat(text); err != nil {
						t.Fatalf("%s: %v", text, err)
					}
				}
				back := make([]byte, d.size)
				if err := d.putNumber(back, v); err != nil {
					t.Fatal(err)
				}
				if string(back) != string(b) {
					t.Fatalf("%x -> %s -> %x", b, text, back)
				}
			}
		})
	}
}

func TestDTypeLookups(t *testing.T) {
	if d, err := lookupDType("FP32"); err != nil || d.size != 4 || d.tfs.String() != "DT_FLOAT" {
		t.Errorf("FP32: %+v %v", d, err)
	}
	if d, err := lookupTFSName("DT_STRING"); err != nil || d.name != "BYTES" {
		t.Errorf("DT_STRING: %+v %v", d, err)
	}
	if _, err := lookupDType("FP8"); err == nil {
		t.Error("FP8 accepted")
	}
	if err := (dtype{name: "INT32", size: 4}).putNumber(make([]byte, 4), 1.5); err == nil {
		t.Error("1.5 accepted as INT32")
	}
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func TestTFSMappingAndSpecialFloats(t *testing.T) {
	for _, d := range dtypes {
		back, err := fromTFS(d.tfs)
		if err != nil || back.name != d.name {
			t.Errorf("%s -> %s -> %v %v", d.name, d.tfs, back.name, err)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(appendFloat(nil, f, 64)); got != "0" {
			t.Errorf("appendFloat(%v) = %s, want 0 (JSON has no NaN)", f, got)
		}
	}
}
