package onnxruntime

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMetadataDynamicDims(t *testing.T) {
	s := newSession(t, identityModel(t, Float32, "batch", 3, nil), SessionOptions{})
	want := []TensorInfo{{Name: "x", Type: Float32, Shape: []int64{-1, 3, -1}}}
	if got := s.Inputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Inputs() = %+v, want %+v", got, want)
	}
	want[0].Name = "y"
	if got := s.Outputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Outputs() = %+v, want %+v", got, want)
	}

	add := nodeTestSession(t, "test_add", SessionOptions{})
	wantAdd := []TensorInfo{{"x", Float32, []int64{3, 4, 5}}, {"y", Float32, []int64{3, 4, 5}}}
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

// TestCUDAProviderWithoutItsLibrary: asking for the CUDA provider where
// ONNX Runtime has no CUDA provider library fails with ORT's reason (the
// fetched CPU-only build here); on a GPU machine with the library the same
// call appends the provider.
func TestCUDAProviderWithoutItsLibrary(t *testing.T) {
	initLib(t)
	s, err := NewSession(identityModel(t, Float32, "batch", 3, nil), SessionOptions{CUDA: true})
	if err == nil {
		s.Close()
		t.Skip("this ONNX Runtime has a CUDA provider; nothing to check here")
	}
	if !strings.Contains(err.Error(), "CUDA execution provider: ") {
		t.Errorf("error %q", err)
	}
	t.Logf("without the provider library: %v", err)
}
