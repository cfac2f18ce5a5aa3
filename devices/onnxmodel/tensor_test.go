package onnxmodel

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestFloat32TensorLittleEndian(t *testing.T) {
	tp := Float32Tensor("w", []int64{2}, []float32{1, -2.5})
	want := []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0}
	if !bytes.Equal(tp.GetRawData(), want) {
		t.Errorf("raw_data = % x, want % x", tp.GetRawData(), want)
	}
	if tp.GetName() != "w" || DataType(tp.GetDataType()) != Float32 || len(tp.GetDims()) != 1 || tp.GetDims()[0] != 2 {
		t.Errorf("tensor = %v", tp)
	}
	if s := Float32Tensor("s", nil, []float32{3}); len(s.GetDims()) != 0 || checkTensor(s) != nil {
		t.Errorf("scalar tensor = %v", s)
	}
}

func TestInt64AndUint8Tensor(t *testing.T) {
	tp := Int64Tensor("shape", []int64{2}, []int64{-1, 258})
	if got := int64(binary.LittleEndian.Uint64(tp.GetRawData()[0:])); got != -1 {
		t.Errorf("first = %d", got)
	}
	if got := binary.LittleEndian.Uint64(tp.GetRawData()[8:]); got != 258 {
		t.Errorf("second = %d", got)
	}
	if u := Uint8Tensor("u", []int64{3}, []uint8{1, 2, 3}); !bytes.Equal(u.GetRawData(), []byte{1, 2, 3}) {
		t.Errorf("uint8 raw_data = %v", u.GetRawData())
	}
}

func TestRandomFloat32Tensor(t *testing.T) {
	shape := []int64{64, 32, 3, 3}
	a := RandomFloat32Tensor("w", shape, 7)
	b := RandomFloat32Tensor("w", shape, 7)
	c := RandomFloat32Tensor("w", shape, 8)
	if !bytes.Equal(a.GetRawData(), b.GetRawData()) {
		t.Error("same seed gave different data")
	}
	if bytes.Equal(a.GetRawData(), c.GetRawData()) {
		t.Error("different seeds gave the same data")
	}
	if err := checkTensor(a); err != nil {
		t.Fatal(err)
	}
	limit := math.Sqrt(6.0 / (32 * 3 * 3))
	var sum, sumSq float64
	n := len(a.GetRawData()) / 4
	for i := 0; i < n; i++ {
		v := float64(math.Float32frombits(binary.LittleEndian.Uint32(a.GetRawData()[4*i:])))
		if math.Abs(v) > limit {
			t.Fatalf("value %g outside ±%g", v, limit)
		}
		sum += v
		sumSq += v * v
	}
	mean, variance := sum/float64(n), sumSq/float64(n)
	if want := 2.0 / (32 * 3 * 3); math.Abs(mean) > 0.01 || math.Abs(variance-want)/want > 0.1 {
		t.Errorf("mean %g variance %g, want about 0 and %g", mean, variance, want)
	}
}

func TestDataType(t *testing.T) {
	tests := []struct {
		t    DataType
		name string
		size int
	}{
		{Float32, "FLOAT", 4}, {Uint8, "UINT8", 1}, {String, "STRING", 0},
		{Float64, "DOUBLE", 8}, {BFloat16, "BFLOAT16", 2}, {DataType(99), "DataType(99)", 0},
	}
	for _, tc := range tests {
		if tc.t.String() != tc.name || tc.t.Size() != tc.size {
			t.Errorf("%d: %s size %d, want %s size %d", int32(tc.t), tc.t, tc.t.Size(), tc.name, tc.size)
		}
	}
}
