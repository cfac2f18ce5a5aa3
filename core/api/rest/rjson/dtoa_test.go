package rjson

import (
	"math"
	"math/rand"
	"strconv"
	"testing"
)

// The expected strings are RapidJSON Writer::Double output.
func TestAppendDoubleMatchesRapidJSON(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{2, "2.0"},
		{float64(float32(0.1)), "0.10000000149011612"},
		{0.1, "0.1"},
		{1e30, "1e30"},
		{1.5e-7, "1.5e-7"},
		{1e-7, "1e-7"},
		{0.000001, "0.000001"},
		{1e21, "1e21"},
		{1e20, "100000000000000000000.0"},
		{123.456, "123.456"},
		{-2.5, "-2.5"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e308"},
		{float64(float32(1.0) / 3), "0.3333333432674408"},
		{1234567, "1234567.0"},
		{float64(float32(3.14159)), "3.141590118408203"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		if got := string(AppendDouble(nil, tt.v)); got != tt.want {
			t.Errorf("AppendDouble(%v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestAppendDoubleRoundTrips(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		v := math.Float64frombits(r.Uint64())
		if i%2 == 1 {
			v = float64(math.Float32frombits(r.Uint32()))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := string(AppendDouble(nil, v))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != v {
			t.Fatalf("%x: %s parses to %v (%v)", math.Float64bits(v), s, back, err)
		}
	}
}
