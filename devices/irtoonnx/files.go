package irtoonnx

// This file reads an IR model from its files and hands back the ONNX bytes
// an engine loads: the one path the device plugin and `ovms convert` share.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// MaxXMLFile is the largest .xml file read. The XML holds the graph only
// (weights live in the .bin), so real files are at most tens of MiB; the
// limit stops a hostile file from filling the memory while it is parsed.
const MaxXMLFile = 1 << 30

// MaxONNXSize is the largest ONNX model a translation may produce: the
// model is one protobuf message, which cannot exceed 2 GiB.
const MaxONNXSize = onnxmodel.MaxFileSize

// ErrTooLarge is wrapped by the error for a translated model over
// MaxONNXSize.
var ErrTooLarge = errors.New("translated ONNX model too large")

// WeightsPath is the .bin OpenVINO reads for an .xml: the same path with
// the extension replaced.
func WeightsPath(xmlPath string) string {
	return strings.TrimSuffix(xmlPath, filepath.Ext(xmlPath)) + ".bin"
}

// ConvertFiles reads the IR model xmlPath with its weights binPath (regular
// files only, no further than their size; see plugins/modelfile), translates
// it and marshals the ONNX model. The weights are copied once, into the
// returned bytes: the parsed IR and the ONNX proto, which only reference the
// .bin, are garbage once it returns. The returned Result describes the
// model (inputs, outputs, ops) with its Model field cleared. Errors name the
// file, and for bad IR the layer.
func ConvertFiles(xmlPath, binPath string, opts Options) ([]byte, *Result, error) {
	xmlData, err := modelfile.ReadFile(xmlPath, MaxXMLFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading IR file: %w", err)
	}
	bin, err := modelfile.ReadFile(binPath, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("reading IR weights: %w", err)
	}
	return ConvertBytes(xmlPath, xmlData, binPath, bin, opts)
}

// ConvertBytes is ConvertFiles for an IR model already in memory (from a
// custom loader): xmlName and binName only name it in errors.
func ConvertBytes(xmlName string, xmlData []byte, binName string, bin []byte, opts Options) ([]byte, *Result, error) {
	if len(xmlData) > MaxXMLFile {
		return nil, nil, fmt.Errorf("IR file %s is larger than %d bytes", xmlName, MaxXMLFile)
	}
	m, err := irmodel.Parse(xmlData, bin)
	if err != nil {
		return nil, nil, fmt.Errorf("IR model %s (weights %s): %w", xmlName, binName, err)
	}
	res, err := Translate(m, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("IR model %s: %w", xmlName, err)
	}
	if size := proto.Size(res.Model); size > MaxONNXSize {
		return nil, nil, fmt.Errorf("IR model %s: the ONNX model it translates to is %d bytes, more than the %d a protobuf message can hold: %w",
			xmlName, size, MaxONNXSize, ErrTooLarge)
	}
	data, err := onnxmodel.Marshal(res.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("IR model %s: %w", xmlName, err)
	}
	res.Model = nil // the initializers referenced bin; only data holds the weights now
	return data, res, nil
}
