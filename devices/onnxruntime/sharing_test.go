package onnxruntime

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
	"google.golang.org/protobuf/proto"
)

// constMatMulModel is y = x·W with W a size×size constant of 0s and 1s
// (ONNX Runtime prepacks W), returned with W as integers.
func constMatMulModel(t *testing.T, size int, seed uint64) ([]byte, []int64) {
	t.Helper()
	raw, w := binaryMatrix(rand.New(rand.NewPCG(seed, 1)), size)
	g := &onnxpb.GraphProto{
		Name:   proto.String("const_matmul"),
		Input:  []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: tensorType(Float32, size, size)}},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y"), Type: tensorType(Float32, size, size)}},
		Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), DataType: proto.Int32(int32(Float32)),
			Dims: []int64{int64(size), int64(size)}, RawData: raw}},
		Node: []*onnxpb.NodeProto{{OpType: proto.String("MatMul"), Input: []string{"x", "w"}, Output: []string{"y"}}},
	}
	b, err := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}})
	if err != nil {
		t.Fatal(err)
	}
	return b, w
}

// checkConstMatMul runs y = x·W on a random binary x and compares exactly.
func checkConstMatMul(t *testing.T, s *Session, w []int64, size int, seed uint64) {
	t.Helper()
	raw, x := binaryMatrix(rand.New(rand.NewPCG(seed, 2)), size)
	in, err := NewTensorCopy(Float32, []int64{int64(size), int64(size)}, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outs := []*Value{nil}
	if err := s.Run([]string{"x"}, []*Value{in}, []string{"y"}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Close()
	got := outs[0].Bytes()
	for i := range size {
		for j := range size {
			var want int64
			for k := range size {
				want += x[i*size+k] * w[k*size+j]
			}
			if v := math.Float32frombits(binary.LittleEndian.Uint32(got[4*(i*size+j):])); float64(v) != float64(want) {
				t.Fatalf("y[%d,%d] = %v, want %d", i, j, v, want)
			}
		}
	}
}

// TestPrepackedWeightsShared: sessions of two models created with one
// container each compute their own results (ONNX Runtime keys the shared
// buffers by the weights' content), and a closed container is refused.
func TestPrepackedWeightsShared(t *testing.T) {
	initLib(t)
	const size = 64
	w, err := NewPrepackedWeights()
	if err != nil {
		t.Fatal(err)
	}
	m1, w1 := constMatMulModel(t, size, 1)
	m2, w2 := constMatMulModel(t, size, 2)
	var sessions []*Session
	for _, m := range [][]byte{m1, m1, m2} {
		s, err := NewSession(m, SessionOptions{PrepackedWeights: w})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	checkConstMatMul(t, sessions[0], w1, size, 10)
	checkConstMatMul(t, sessions[1], w1, size, 11)
	checkConstMatMul(t, sessions[2], w2, size, 12)
	sessions[0].Close()
	checkConstMatMul(t, sessions[1], w1, size, 13) // the shared buffers outlive the first session
	sessions[1].Close()
	sessions[2].Close()
	w.Close()
	w.Close()
	if s, err := NewSession(m1, SessionOptions{PrepackedWeights: w}); err == nil {
		s.Close()
		t.Error("NewSession with a closed container succeeded")
	}
}

// TestSharedCPUArena: UseEnvAllocators needs RegisterSharedCPUArena; with
// it, sessions allocate from the environment's arena and compute correctly.
func TestSharedCPUArena(t *testing.T) {
	initLib(t)
	const size = 64
	m, w := constMatMulModel(t, size, 3)
	if !sharedArena() {
		s, err := NewSession(m, SessionOptions{UseEnvAllocators: true})
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "UseEnvAllocators") {
			t.Errorf("UseEnvAllocators without a shared arena: %v, want an error naming it", err)
		}
	}
	if err := RegisterSharedCPUArena(); err != nil {
		t.Fatal(err)
	}
	if err := RegisterSharedCPUArena(); err != nil {
		t.Fatalf("second call: %v", err)
	}
	a := newSession(t, m, SessionOptions{UseEnvAllocators: true})
	b := newSession(t, m, SessionOptions{UseEnvAllocators: true})
	checkConstMatMul(t, a, w, size, 20)
	checkConstMatMul(t, b, w, size, 21)
}
