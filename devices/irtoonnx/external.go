package irtoonnx

// This file translates an IR model for an engine that takes the weights
// from memory as external data: the ONNX model keeps only the graph, its
// initializers point into the .bin by offset and length, and the engine is
// handed the .bin bytes as they were read. The weights are then copied
// once on their way to the engine (by the engine, from the .bin), where
// ConvertFiles copies them into the marshalled model first.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/modelfile"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// externalMin is the smallest initializer left in the .bin: smaller ones
// (shapes, axes, scalars) stay in the model, where they cost nothing.
const externalMin = 1024

// External is an IR model translated with its weights left in the .bin.
type External struct {
	// Model is the marshalled ONNX model; initializers of at least
	// externalMin bytes that are slices of the .bin have data_location
	// EXTERNAL with location Location and their offset and length in it.
	Model []byte
	// Location is the name the initializers give the weights file (the
	// .bin's base name).
	Location string
	// Weights is the .bin as read: the engine must be given it under
	// Location (ONNX Runtime: SessionOptions.ExternalFiles).
	Weights []byte
	// Result describes the model, its Model field cleared.
	Result *Result
	// ExternalBytes is how many weight bytes the model leaves in Weights.
	ExternalBytes int64
}

// ConvertFilesExternal reads and translates the IR model xmlPath with its
// weights binPath as ConvertFiles does, but leaves the weights in the .bin:
// see External. Errors are those of ConvertFiles.
func ConvertFilesExternal(xmlPath, binPath string, opts Options) (*External, error) {
	xmlData, err := modelfile.ReadFile(xmlPath, MaxXMLFile)
	if err != nil {
		return nil, fmt.Errorf("reading IR file: %w", err)
	}
	bin, err := modelfile.ReadFile(binPath, 0)
	if err != nil {
		return nil, fmt.Errorf("reading IR weights: %w", err)
	}
	return ConvertBytesExternal(xmlPath, xmlData, binPath, bin, opts)
}

// ConvertBytesExternal is ConvertFilesExternal for an IR model already in
// memory (from a custom loader): xmlName and binName name it in errors,
// and binName's base name is the External's Location.
func ConvertBytesExternal(xmlName string, xmlData []byte, binName string, bin []byte, opts Options) (*External, error) {
	if len(xmlData) > MaxXMLFile {
		return nil, fmt.Errorf("IR file %s is larger than %d bytes", xmlName, MaxXMLFile)
	}
	m, err := irmodel.Parse(xmlData, bin)
	if err != nil {
		return nil, fmt.Errorf("IR model %s (weights %s): %w", xmlName, binName, err)
	}
	res, err := Translate(m, opts)
	if err != nil {
		return nil, fmt.Errorf("IR model %s: %w", xmlName, err)
	}
	ext := &External{Location: filepath.Base(binName), Weights: bin, Result: res}
	ext.ExternalBytes = Externalize(res.Model, bin, ext.Location)
	if size := proto.Size(res.Model); size > MaxONNXSize {
		return nil, fmt.Errorf("IR model %s: the ONNX model it translates to is %d bytes, more than the %d a protobuf message can hold: %w",
			xmlName, size, MaxONNXSize, ErrTooLarge)
	}
	if ext.Model, err = onnxmodel.Marshal(res.Model); err != nil {
		return nil, fmt.Errorf("IR model %s: %w", xmlName, err)
	}
	res.Model = nil
	return ext, nil
}

// Externalize turns the graph's initializers whose raw data is a slice of
// bin (at least 1 KiB) into external data at their offset in bin under
// location, and returns the bytes so moved. ConvertFilesExternal does it
// between Translate and the marshal.
func Externalize(m *onnxpb.ModelProto, bin []byte, location string) int64 {
	if len(bin) == 0 {
		return 0
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(bin)))
	end := base + uintptr(len(bin))
	var moved int64
	for _, t := range m.GetGraph().GetInitializer() {
		raw := t.GetRawData()
		if len(raw) < externalMin {
			continue
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
		if p < base || p+uintptr(len(raw)) > end {
			continue // built by the translator (unpacked, folded), not the .bin's
		}
		t.RawData = nil
		t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(location)},
			{Key: proto.String("offset"), Value: proto.String(strconv.FormatUint(uint64(p-base), 10))},
			{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(raw)))},
		}
		moved += int64(len(raw))
	}
	return moved
}
