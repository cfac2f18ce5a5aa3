// Package modelinfo reads a model's inputs and outputs for a device
// plugin's Load answer (device.ModelInfo), so that a plugin author needs
// neither an engine nor the ONNX protobuf types to describe a model:
//
//	func (d *dev) Load(_ context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
//		return modelinfo.Read(req)
//	}
//
// It reads ONNX models (an OpenVINO IR can be converted first with
// `ovms convert`) and applies the request's shape, batch_size and layout
// settings as the ONNX Runtime plugins do.
package modelinfo

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelfile"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// Read returns the inputs and outputs of the model a LoadRequest names:
// its ModelBytes when set, else the .onnx file of its ModelFiles (from a
// custom loader; an OpenVINO IR there is an error), else the one .onnx file
// in its version folder (Path), with the request's Shapes, BatchSize and
// Layouts applied. A setting that cannot apply is an INVALID_ARGUMENT error
// with OVMS's message.
func Read(req *device.LoadRequest) (*device.ModelInfo, error) {
	model := req.ModelBytes
	if model == nil && len(req.ModelFiles) > 0 {
		for _, f := range req.ModelFiles {
			if strings.EqualFold(filepath.Ext(f.Name), ".onnx") {
				model = f.Data
			}
		}
		if model == nil {
			return nil, status.Error(codes.InvalidArgument, "the custom loader's model files hold no .onnx model")
		}
	}
	if model == nil {
		path, err := File(req.Path)
		if err != nil {
			return nil, err
		}
		if model, err = modelfile.ReadFile(path, onnxmodel.MaxFileSize); err != nil {
			return nil, fmt.Errorf("reading the model: %w", err)
		}
	}
	r := onnxmodel.Reshape{Shapes: req.Shapes, BatchSize: req.BatchSize, Layouts: req.Layouts}
	if !r.Empty() {
		edited, err := onnxmodel.ApplyReshape(model, r)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		model = edited
	}
	return ONNX(model)
}

// File returns the path of the one .onnx file in a version folder.
func File(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil {
		return "", fmt.Errorf("looking for the model in %s: %w", dir, err)
	}
	sort.Strings(matches)
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no .onnx model file in %s", dir)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("more than one .onnx model file in %s: %s", dir, strings.Join(matches, ", "))
}

// ONNX returns the inputs (graph inputs that are not initializers) and the
// outputs of a serialized ONNX model, in the model's order. A dimension
// without a fixed size is -1.
func ONNX(model []byte) (*device.ModelInfo, error) {
	m, err := onnxmodel.Parse(model)
	if err != nil {
		return nil, err
	}
	g := m.GetGraph()
	inits := make(map[string]bool, len(g.GetInitializer()))
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	info := &device.ModelInfo{}
	for _, v := range g.GetInput() {
		if !inits[v.GetName()] {
			info.Inputs = append(info.Inputs, tensorInfo(v))
		}
	}
	for _, v := range g.GetOutput() {
		info.Outputs = append(info.Outputs, tensorInfo(v))
	}
	return info, nil
}

func tensorInfo(v *onnxpb.ValueInfoProto) device.TensorInfo {
	tt := v.GetType().GetTensorType()
	t := device.TensorInfo{Name: v.GetName(), DType: device.DataType(tt.GetElemType()), Shape: []int64{}}
	for _, d := range tt.GetShape().GetDim() {
		n := int64(-1)
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			n = d.GetDimValue()
		}
		t.Shape = append(t.Shape, n)
	}
	return t
}
