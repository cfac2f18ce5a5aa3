package host

import (
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

func keyToProto(k ModelKey) *devicev1.ModelKey {
	return &devicev1.ModelKey{Name: k.Name, Version: k.Version}
}

func keyFromProto(k *devicev1.ModelKey) ModelKey {
	return ModelKey{Name: k.GetName(), Version: k.GetVersion()}
}

func infosToProto(in []TensorInfo) []*devicev1.TensorInfo {
	out := make([]*devicev1.TensorInfo, len(in))
	for i, t := range in {
		out[i] = &devicev1.TensorInfo{Name: t.Name, Dtype: devicev1.DataType(t.DType), Shape: t.Shape, Aliases: t.Aliases, Layout: t.Layout, ShapeMin: t.ShapeMin, ShapeMax: t.ShapeMax}
	}
	return out
}

func infosFromProto(in []*devicev1.TensorInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, t := range in {
		out[i] = TensorInfo{Name: t.GetName(), DType: DataType(t.GetDtype()), Shape: t.GetShape(), Aliases: t.GetAliases(), Layout: t.GetLayout(), ShapeMin: t.GetShapeMin(), ShapeMax: t.GetShapeMax()}
	}
	return out
}

func refsToProto(in []TensorRef) []*devicev1.TensorRef {
	out := make([]*devicev1.TensorRef, len(in))
	for i, t := range in {
		out[i] = &devicev1.TensorRef{Name: t.Name, Dtype: devicev1.DataType(t.DType), Shape: t.Shape, Offset: t.Offset, Length: t.Length, Region: t.Region}
	}
	return out
}

func refsFromProto(in []*devicev1.TensorRef) []TensorRef {
	out := make([]TensorRef, len(in))
	for i, t := range in {
		out[i] = TensorRef{Name: t.GetName(), DType: DataType(t.GetDtype()), Shape: t.GetShape(), Offset: t.GetOffset(), Length: t.GetLength(), Region: t.GetRegion()}
	}
	return out
}

// rtInfo turns the wire form of ModelInfo.RTInfo back into bytes (nil for
// none).
func rtInfo(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func filesToProto(fs []ModelFile) []*devicev1.ModelFile {
	if len(fs) == 0 {
		return nil
	}
	out := make([]*devicev1.ModelFile, len(fs))
	for i, f := range fs {
		out[i] = &devicev1.ModelFile{Name: f.Name, Data: f.Data}
	}
	return out
}

func filesFromProto(fs []*devicev1.ModelFile) []ModelFile {
	if len(fs) == 0 {
		return nil
	}
	out := make([]ModelFile, len(fs))
	for i, f := range fs {
		out[i] = ModelFile{Name: f.GetName(), Data: f.GetData()}
	}
	return out
}
