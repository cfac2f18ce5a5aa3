package rjson

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

// imageBody is a KServe infer body with a 1x3x224x224 image of random
// pixels in [0,1), as a client writes them.
func imageBody() []byte {
	rng := rand.New(rand.NewPCG(3, 224))
	b := []byte(`{"inputs":[{"name":"input","shape":[1,3,224,224],"datatype":"FP32","data":[`)
	for i := range 3 * 224 * 224 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(rng.Float32()), 'g', -1, 32)
	}
	return append(b, "]}]}"...)
}

func BenchmarkValidate(b *testing.B) {
	body := imageBody()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := Validate(body, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateIndex is the check before reading: the run of numbers
// is only delimited (the reader checks it).
func BenchmarkValidateIndex(b *testing.B) {
	body := imageBody()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ValidateIndex(body, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendFloats reads the image as float32, checking the run.
func BenchmarkAppendFloats(b *testing.B) {
	body := imageBody()
	start := bytes.Index(body, []byte(`"data":[`)) + len(`"data":[`)
	dst := make([]float32, 0, 3*224*224)
	conv := func(n Number) float32 { return float32(n.Float64()) }
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		idx, err := ValidateIndex(body, 100)
		if err != nil {
			b.Fatal(err)
		}
		c := NewIndexedCursor(body, idx)
		c.Seek(start)
		var done bool
		if dst, _, done = AppendFloats(c, dst[:0], conv); !done || len(dst) != cap(dst) || idx.Check() != nil {
			b.Fatal("not read")
		}
	}
}
