package rjson

import (
	"math"
	"testing"
)

// The expected strings are TF Serving's WriteDecimal output (absl::StrCat,
// absl::SimpleAtof and "%.9g"/"%.17g", built against abseil).
func TestAppendDecimalMatchesTFServing(t *testing.T) {
	f32 := []struct {
		v    float32
		want string
	}{
		{0.1, "0.1"},
		{2, "2.0"},
		{1234567, "1234567.0"},
		{1e-5, "1e-05"},
		{9e6, "9e+06"},
		{float32(math.NaN()), "NaN"},
		{float32(math.Inf(1)), "Infinity"},
		{float32(math.Inf(-1)), "-Infinity"},
		{float32(math.Copysign(0, -1)), "-0.0"},
		{16777218, "16777218.0"},
		{1.0 / 3, "0.333333343"},
		{123.456, "123.456"},
		{1, "1.0"},
		{math.SmallestNonzeroFloat32, "1.4013e-45"},
		{math.MaxFloat32, "3.40282347e+38"},
	}
	for _, tt := range f32 {
		if got := string(AppendDecimal32(nil, tt.v)); got != tt.want {
			t.Errorf("AppendDecimal32(%v) = %s, want %s", tt.v, got, tt.want)
		}
	}
	f64 := []struct {
		v    float64
		want string
	}{
		{1.0 / 3, "0.33333333333333331"},
		{0.3, "0.3"},
		{1e20, "1e+20"},
		{2, "2.0"},
		{math.NaN(), "NaN"},
	}
	for _, tt := range f64 {
		if got := string(AppendDecimal64(nil, tt.v)); got != tt.want {
			t.Errorf("AppendDecimal64(%v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func BenchmarkAppendDecimal32(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendDecimal32(buf[:0], float32(i)*0.37)
	}
}

func BenchmarkAppendDouble(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendDouble(buf[:0], float64(float32(i)*0.37))
	}
}
