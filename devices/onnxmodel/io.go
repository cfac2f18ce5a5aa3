package onnxmodel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/plugins/modelfile"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// MaxFileSize is the largest ONNX file Load reads: a protobuf message, and
// so a model with its weights inside, cannot exceed 2 GiB.
const MaxFileSize = 2<<30 - 1

// ErrNotFound is wrapped by errors about a graph input that does not exist.
var ErrNotFound = errors.New("not found")

// Marshal encodes m in the protobuf wire format. The encoding is
// deterministic: the same model always gives the same bytes.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal onnx model: %w", err)
	}
	return b, nil
}

// Parse decodes an ONNX model from its protobuf encoding.
func Parse(data []byte) (*onnxpb.ModelProto, error) {
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("parse onnx model: %w", err)
	}
	if m.GetGraph() == nil {
		return nil, errors.New("parse onnx model: no graph")
	}
	return m, nil
}

// Load reads and parses the ONNX model file at path, which must be a
// regular file or a link to one (see package plugins/modelfile).
func Load(path string) (*onnxpb.ModelProto, error) {
	data, err := modelfile.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("load onnx model: %w", err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

// WriteFile marshals m and writes it to path, creating parent directories.
// The file is replaced atomically (written beside it, then renamed).
func WriteFile(path string, m *onnxpb.ModelProto) error {
	data, err := Marshal(m)
	if err != nil {
		return err
	}
	return WriteBytes(path, data)
}

// WriteBytes writes data to path the way WriteFile does.
func WriteBytes(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write onnx model: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write onnx model: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	return nil
}

// SetInputShape replaces the dims of the graph input called input with
// dims: -1 is dynamic (dim_param "<input>_d<i>"), no dims is a scalar. The
// element type is kept. Shapes recorded elsewhere in the graph (outputs,
// value_info) are left alone; ONNX Runtime re-infers them.
func SetInputShape(m *onnxpb.ModelProto, input string, dims []int64) error {
	for _, vi := range m.GetGraph().GetInput() {
		if vi.GetName() != input {
			continue
		}
		tt := vi.GetType().GetTensorType()
		if tt == nil {
			return fmt.Errorf("set shape of input %q: not a tensor", input)
		}
		tp, err := tensorType(DataType(tt.GetElemType()), input, dims)
		if err != nil {
			return fmt.Errorf("set shape of input %q: %w", input, err)
		}
		tt.Shape = tp.GetTensorType().GetShape()
		return nil
	}
	return fmt.Errorf("set shape of input %q: %w", input, ErrNotFound)
}

// ClearOutputShapes drops the shapes declared for the graph outputs and
// the graph's value_info, keeping element types, so that ONNX Runtime infers
// them again: call it after SetInputShape, or the session keeps reporting
// (and warning about) the old output shapes.
func ClearOutputShapes(m *onnxpb.ModelProto) {
	g := m.GetGraph()
	if g == nil {
		return
	}
	for _, vi := range g.GetOutput() {
		if tt := vi.GetType().GetTensorType(); tt != nil {
			tt.Shape = nil
		}
	}
	g.ValueInfo = nil
}
