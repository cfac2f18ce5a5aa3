package onnxruntime

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
	"google.golang.org/protobuf/proto"
)

// nodeTests is where Debian's libonnx-testdata puts the ONNX node tests.
const nodeTests = "/usr/share/libonnx-testdata/data/node"

var (
	initOnce sync.Once
	initErr  error
)

// initLib loads the library once for the test binary, found by FindLibrary
// (make test fetches it first). A missing library fails the test.
func initLib(t testing.TB) {
	t.Helper()
	initOnce.Do(func() {
		path, err := FindLibrary()
		if err != nil {
			initErr = err
			return
		}
		initErr = Init(path)
	})
	if initErr != nil {
		t.Fatal(initErr)
	}
}

// nodeTestDir returns the folder of one ONNX node test, failing the test
// when libonnx-testdata is not installed.
func nodeTestDir(t testing.TB, name string) string {
	t.Helper()
	if _, err := os.Stat(nodeTests); err != nil {
		t.Fatalf("ONNX node tests not found at %s: apt-get install libonnx-testdata", nodeTests)
	}
	return filepath.Join(nodeTests, name)
}

// nodeTestSession opens the model of an ONNX node test.
func nodeTestSession(t testing.TB, name string, opts SessionOptions) *Session {
	t.Helper()
	initLib(t)
	model, err := os.ReadFile(filepath.Join(nodeTestDir(t, name), "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(model, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// nodeTestTensor reads test_data_set_0/<file> of an ONNX node test.
func nodeTestTensor(t testing.TB, name, file string) *tensorData {
	t.Helper()
	td, err := readTensorPB(filepath.Join(nodeTestDir(t, name), "test_data_set_0", file))
	if err != nil {
		t.Fatal(err)
	}
	return td
}

// dim describes one dimension for tensorType: an int is fixed, a string
// symbolic, nil unknown.
type dim any

func tensorType(typ ElementType, dims ...dim) *onnxpb.TypeProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{}}
	for _, d := range dims {
		pd := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			pd.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case string:
			pd.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		}
		shape.Dim = append(shape.Dim, pd)
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(typ)), Shape: shape},
	}}
}

// identityModel returns a model y = Identity(x) with x and y of type typ
// and the given dimensions (none: a scalar).
func identityModel(t testing.TB, typ ElementType, dims ...dim) []byte {
	t.Helper()
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{
			Name:   proto.String("identity"),
			Node:   []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Input: []string{"x"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: tensorType(typ, dims...)}},
			Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y"), Type: tensorType(typ, dims...)}},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newSession creates a session over model bytes and closes it at cleanup.
func newSession(t testing.TB, model []byte, opts SessionOptions) *Session {
	t.Helper()
	initLib(t)
	s, err := NewSession(model, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// mustValue makes a Value from a tensorData and closes it at cleanup.
func mustValue(t testing.TB, td *tensorData) *Value {
	t.Helper()
	v, err := td.value()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}
