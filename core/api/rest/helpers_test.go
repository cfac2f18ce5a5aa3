package rest

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// errText is the status and message a client would get for err.
func errText(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	return errorStatus(err)
}

// arenaBytes is what an input would write into the arena.
func arenaBytes(t *testing.T, in tensor.Input) []byte {
	t.Helper()
	dst := make([]byte, in.ByteSize(in.DType))
	if err := in.WriteTo(dst, in.DType); err != nil {
		t.Fatalf("input %s: %v", in.Name, err)
	}
	return dst
}

func f32Bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func i32Bytes(vs ...int32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return b
}

func lenPrefixed(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func seq(n int, start float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = start + float32(i)
	}
	return out
}

var (
	dummyInputs = []device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{1, 10}}}
	twoInputs   = []device.TensorInfo{{Name: "b", DType: device.Int32, Shape: []int64{-1, 2}}, {Name: "a", DType: device.Float32, Shape: []int64{-1, 2}}}
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
