package onnxruntime

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

func TestMetadataDynamicDims(t *testing.T) {
	s := newSession(t, identityModel(t, Float32, "batch", 3, nil), SessionOptions{})
	want := []TensorInfo{{Name: "x", Type: Float32, Shape: []int64{-1, 3, -1}, Symbols: []string{"batch", "", ""}}}
	if got := s.Inputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Inputs() = %+v, want %+v", got, want)
	}
	want[0].Name = "y"
	if got := s.Outputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Outputs() = %+v, want %+v", got, want)
	}

	add := nodeTestSession(t, "test_add", SessionOptions{})
	wantAdd := []TensorInfo{{Name: "x", Type: Float32, Shape: []int64{3, 4, 5}}, {Name: "y", Type: Float32, Shape: []int64{3, 4, 5}}}
	if got := add.Inputs(); !reflect.DeepEqual(got, wantAdd) {
		t.Errorf("test_add Inputs() = %+v, want %+v", got, wantAdd)
	}
}

func TestNonTensorInputRejected(t *testing.T) {
	initLib(t)
	model, err := os.ReadFile(filepath.Join(nodeTestDir(t, "test_identity_sequence"), "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(model, SessionOptions{})
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), `input "x" is a sequence, not a tensor`) {
		t.Fatalf("NewSession(sequence model): %v, want an error naming input x as a sequence", err)
	}
}

// runIdentity runs y = Identity(x) into an ORT-allocated output and returns
// it; for dense tensors it also runs into a preallocated output.
func runIdentity(t *testing.T, s *Session, in *Value) *Value {
	t.Helper()
	outs := []*Value{nil}
	if err := s.Run([]string{"x"}, []*Value{in}, []string{"y"}, outs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(outs[0].Close)
	if in.Type() == String {
		return outs[0]
	}
	pre, err := NewTensorCopy(in.Type(), in.Shape(), make([]byte, len(in.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	if err := s.Run([]string{"x"}, []*Value{in}, []string{"y"}, []*Value{pre}); err != nil {
		t.Fatalf("run into a preallocated output: %v", err)
	}
	if !bytes.Equal(pre.Bytes(), in.Bytes()) {
		t.Errorf("preallocated output %v, want %v", pre.Bytes(), in.Bytes())
	}
	return outs[0]
}

// TestIdentityAllTypes passes every numeric type, bool, float16 and
// bfloat16 through Identity as a rank-0 scalar, a 2x3 tensor and a
// zero-element tensor.
func TestIdentityAllTypes(t *testing.T) {
	initLib(t)
	types := []ElementType{Float32, Uint8, Int8, Uint16, Int16, Int32, Int64, Bool, Float16, Float64, Uint32, Uint64, BFloat16}
	for _, typ := range types {
		for _, shape := range [][]int64{{}, {2, 3}, {0, 3}} {
			t.Run(fmt.Sprintf("%s%v", typ, shape), func(t *testing.T) {
				dims := make([]dim, len(shape))
				for i, d := range shape {
					dims[i] = int(d)
				}
				s := newSession(t, identityModel(t, typ, dims...), SessionOptions{IntraOpThreads: 1})
				data := make([]byte, typ.ByteLen(numElements(shape)))
				for i := range data {
					data[i] = byte(rand.IntN(256))
					if typ == Bool {
						data[i] &= 1
					}
				}
				in, err := NewTensorCopy(typ, shape, data)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				out := runIdentity(t, s, in)
				if out.Type() != typ || !reflect.DeepEqual(out.Shape(), shape) || !bytes.Equal(out.Bytes(), data) {
					t.Errorf("output %s%v %v, want %s%v %v", out.Type(), out.Shape(), out.Bytes(), typ, shape, data)
				}
				if out.Bytes() == nil {
					t.Error("Bytes() is nil, want a view (empty for zero elements)")
				}
			})
		}
	}
}

func TestStrings(t *testing.T) {
	initLib(t)
	for _, tt := range []struct {
		shape []int64
		elems [][]byte
	}{
		{[]int64{}, [][]byte{[]byte("scalar")}},
		{[]int64{4}, [][]byte{[]byte("a"), {}, []byte("héllo wörld"), []byte("\xff\x01")}},
		{[]int64{2, 0}, [][]byte{}},
	} {
		t.Run(fmt.Sprint(tt.shape), func(t *testing.T) {
			dims := make([]dim, len(tt.shape))
			for i, d := range tt.shape {
				dims[i] = int(d)
			}
			s := newSession(t, identityModel(t, String, dims...), SessionOptions{})
			in, err := NewStringTensor(tt.shape, tt.elems)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if in.Bytes() != nil {
				t.Errorf("Bytes() of a string tensor = %v, want nil", in.Bytes())
			}
			out := runIdentity(t, s, in)
			got, err := out.Strings()
			if err != nil {
				t.Fatal(err)
			}
			if out.Type() != String || !reflect.DeepEqual(out.Shape(), tt.shape) || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.elems) {
				t.Errorf("output %s%v %q, want string%v %q", out.Type(), out.Shape(), got, tt.shape, tt.elems)
			}
		})
	}
	if v, err := NewStringTensor([]int64{1}, [][]byte{[]byte("a\x00b")}); err == nil || !strings.Contains(err.Error(), "NUL") {
		if v != nil {
			v.Close()
		}
		t.Errorf("NewStringTensor with a NUL byte: %v, want an error about NUL", err)
	}
	if _, err := NewStringTensor([]int64{2}, [][]byte{[]byte("a")}); err == nil {
		t.Error("NewStringTensor with 1 element for shape [2]: no error")
	}
}

// TestStringInputFromTestdata casts strings to floats (string input) and
// TestFloat16Output casts floats to float16 (float16 output), comparing with
// the node tests' expected outputs.
func TestStringInputFromTestdata(t *testing.T) {
	runNodeTestIO(t, "test_cast_STRING_to_FLOAT", String, Float32)
}
func TestFloat16Output(t *testing.T) {
	runNodeTestIO(t, "test_cast_FLOAT_to_FLOAT16", Float32, Float16)
}
func TestScalarFromTestdata(t *testing.T) {
	runNodeTestIO(t, "test_range_int32_type_negative_delta", Int32, Int32)
}

func runNodeTestIO(t *testing.T, name string, inType, outType ElementType) {
	s := nodeTestSession(t, name, SessionOptions{})
	var names []string
	var ins []*Value
	for i, ti := range s.Inputs() {
		td := nodeTestTensor(t, name, fmt.Sprintf("input_%d.pb", i))
		if td.typ != inType {
			t.Fatalf("%s input %d is %s, want %s", name, i, td.typ, inType)
		}
		names, ins = append(names, ti.Name), append(ins, mustValue(t, td))
	}
	outs := []*Value{nil}
	if err := s.Run(names, ins, []string{s.Outputs()[0].Name}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Close()
	if outs[0].Type() != outType {
		t.Errorf("output type %s, want %s", outs[0].Type(), outType)
	}
	if err := compareValue(nodeTestTensor(t, name, "output_0.pb"), outs[0], 1e-3, 1e-5); err != nil {
		t.Error(err)
	}
}

// TestCustomOpLibraryIsRegistered: a library that cannot be loaded fails
// the session with ONNX Runtime's reason and the library's name (a real
// custom-op library is not available to the tests).
func TestCustomOpLibraryIsRegistered(t *testing.T) {
	initLib(t)
	model := identityModel(t, Float32, "batch", 3, nil)
	for _, lib := range []string{"/nonexistent/libcustom_ops.so", "/etc/hostname"} {
		_, err := NewSession(model, SessionOptions{CustomOpLibraries: []string{lib}})
		if err == nil || !strings.Contains(err.Error(), "custom op library "+lib+": ") {
			t.Errorf("%s: %v", lib, err)
		}
	}
}

// TestCUDAProvider asks for ONNX Runtime's CUDA provider. Where the
// provider library or a GPU is missing (the fetched CPU build here) the
// session fails with ORT's reason. Where both are present (a GPU machine
// with the provider beside the library, see docs/devices.md) it runs a
// chain of MatMuls on the GPU and checks the result against the CPU's.
// OVMS_TEST_CUDA=1 says the GPU is expected, so its absence fails.
func TestCUDAProvider(t *testing.T) {
	initLib(t)
	const size, n = 1024, 4
	model := chainModel(t, n, size)
	gpu, err := NewSession(model, SessionOptions{CUDA: true})
	if err != nil {
		if os.Getenv("OVMS_TEST_CUDA") == "1" {
			t.Fatalf("OVMS_TEST_CUDA=1 but the CUDA provider failed: %v", err)
		}
		if !strings.Contains(err.Error(), "CUDA execution provider: ") {
			t.Errorf("error %q", err)
		}
		t.Logf("without the provider library or a GPU: %v", err)
		return
	}
	defer gpu.Close()
	cpu := newSession(t, model, SessionOptions{})
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, size*size*4)
	for i := 0; i < len(data); i += 4 {
		binary.LittleEndian.PutUint32(data[i:], math.Float32bits(float32(r.Float64()*2-1)/32))
	}
	x, err := NewTensorCopy(Float32, []int64{size, size}, data)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	run := func(s *Session) ([]float64, time.Duration) {
		var best time.Duration
		var out []float64
		for range 5 {
			outs := []*Value{nil}
			start := time.Now()
			if err := s.Run([]string{"x"}, []*Value{x}, []string{"y"}, outs); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
			out = floats(Float32, outs[0].Bytes())
			outs[0].Close()
		}
		return out, best
	}
	want, cpuTime := run(cpu)
	got, gpuTime := run(gpu)
	var maxAbs, maxDiff float64
	for i := range want {
		maxAbs = max(maxAbs, math.Abs(want[i]))
		maxDiff = max(maxDiff, math.Abs(got[i]-want[i]))
	}
	// The GPU may use TF32 for MatMul (10-bit mantissa): allow 1% of the
	// largest value.
	if maxAbs == 0 || maxDiff > 0.01*maxAbs {
		t.Errorf("CUDA result differs from the CPU's by %g (largest value %g)", maxDiff, maxAbs)
	}
	t.Logf("%d MatMuls of %dx%d: CPU %v, CUDA %v (best of 5; %.1fx); largest difference %.3g of %.3g",
		n, size, size, cpuTime, gpuTime, float64(cpuTime)/float64(gpuTime), maxDiff, maxAbs)
}

// An output whose file leaves its dimensions unknown gets the symbols ONNX
// Runtime's shape inference gives it: the input's, through an Identity.
func TestOutputSymbolsInferred(t *testing.T) {
	initLib(t)
	m := identityModel(t, Float32, "batch", 3, "len")
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(m, &mp); err != nil {
		t.Fatal(err)
	}
	mp.Graph.Output[0].Type = tensorType(Float32, nil, nil, nil)
	b, err := proto.Marshal(&mp)
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, b, SessionOptions{})
	t.Logf("inputs %+v outputs %+v", s.Inputs(), s.Outputs())
	want := []TensorInfo{{Name: "y", Type: Float32, Shape: []int64{-1, 3, -1}, Symbols: []string{"batch", "", "len"}}}
	if got := s.Outputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Outputs() = %+v, want %+v", got, want)
	}
}
