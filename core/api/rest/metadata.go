package rest

import (
	"io"
	"sort"
	"strconv"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tferr "github.com/ovmsgo/ovms/proto/tensorflow/core/protobuf"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// protoWriter returns a writer laid out as protobuf's JSON printer with
// add_whitespace: one space per level, protobuf's string escaping.
func protoWriter(out io.Writer) *rjson.Writer {
	w := rjson.NewPrettyWriter(out, 1)
	w.SetEscaping(rjson.EscapeProtobuf)
	return w
}

// enumValue writes an enum as its name, or its number when unnamed, as
// protobuf's JSON printer does.
func enumValue(w *rjson.Writer, names map[int32]string, v int32) {
	if n, ok := names[v]; ok {
		w.String(n)
	} else {
		w.Int64(int64(v))
	}
}

// WriteModelStatus writes a GetModelStatusResponse as OVMS's REST API does
// (protobuf JSON with whitespace, field names as in the proto, int64 as
// strings, enums by name, a trailing new line).
func WriteModelStatus(out io.Writer, resp *tfspb.GetModelStatusResponse) error {
	w := protoWriter(out)
	w.StartObject()
	w.Key("model_version_status")
	w.StartArray()
	for _, s := range resp.GetModelVersionStatus() {
		w.StartObject()
		w.Key("version")
		w.String(strconv.FormatInt(s.GetVersion(), 10))
		w.Key("state")
		enumValue(w, tfspb.ModelVersionStatus_State_name, int32(s.GetState()))
		w.Key("status")
		w.StartObject()
		w.Key("error_code")
		enumValue(w, tferr.Code_name, int32(s.GetStatus().GetErrorCode()))
		w.Key("error_message")
		w.String(s.GetStatus().GetErrorMessage())
		w.EndObject()
		w.EndObject()
	}
	w.EndArray()
	w.EndObject()
	return writeNewline(w)
}

// writeNewline ends a protobuf-printed document with its new line.
func writeNewline(w *rjson.Writer) error {
	w.WriteBytes([]byte{'\n'})
	return w.Flush()
}

// WriteModelMetadata writes the TFS GetModelMetadata response of a model
// version as OVMS's REST API does: modelSpec, then the serving_default
// signature with inputs and outputs in name order.
func WriteModelMetadata(out io.Writer, model string, version int64, inputs, outputs []device.TensorInfo) error {
	w := protoWriter(out)
	w.StartObject()
	w.Key("modelSpec")
	w.StartObject()
	w.Key("name")
	w.String(model)
	w.Key("signatureName")
	w.String("")
	w.Key("version")
	w.String(strconv.FormatInt(version, 10))
	w.EndObject()
	w.Key("metadata")
	w.StartObject()
	w.Key("signature_def")
	w.StartObject()
	w.Key("@type")
	w.String("type.googleapis.com/tensorflow.serving.SignatureDefMap")
	w.Key("signatureDef")
	w.StartObject()
	w.Key("serving_default")
	w.StartObject()
	w.Key("inputs")
	tensorInfos(w, inputs)
	w.Key("outputs")
	tensorInfos(w, outputs)
	w.Key("methodName")
	w.String("")
	w.EndObject()
	w.EndObject()
	w.EndObject()
	w.EndObject()
	w.EndObject()
	return writeNewline(w)
}

func tensorInfos(w *rjson.Writer, ts []device.TensorInfo) {
	sorted := append([]device.TensorInfo(nil), ts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	w.StartObject()
	for _, t := range sorted {
		w.Key(t.Name)
		w.StartObject()
		w.Key("dtype")
		enumValue(w, fw.DataType_name, tensor.TFSType(t.DType))
		w.Key("tensorShape")
		w.StartObject()
		w.Key("dim")
		w.StartArray()
		for _, d := range t.Shape {
			w.StartObject()
			w.Key("size")
			w.String(strconv.FormatInt(d, 10))
			w.Key("name")
			w.String("")
			w.EndObject()
		}
		w.EndArray()
		w.Key("unknownRank")
		w.Bool(false)
		w.EndObject()
		w.Key("name")
		w.String(t.Name)
		w.EndObject()
	}
	w.EndObject()
}

// WriteKServeMetadata writes a ModelMetadataResponse as OVMS's KServe REST
// API does: compact, fields name, versions, platform, inputs, outputs;
// tensors name, datatype, shape (numbers); then "rt_info" when rtInfo (a
// JSON object, see device.ModelInfo.RTInfo) is set, as OVMS adds an
// OpenVINO IR's model_info.
func WriteKServeMetadata(out io.Writer, m *kpb.ModelMetadataResponse, rtInfo []byte) error {
	w := rjson.NewWriter(out)
	w.StartObject()
	w.Key("name")
	w.String(m.GetName())
	w.Key("versions")
	w.StartArray()
	for _, v := range m.GetVersions() {
		w.String(v)
	}
	w.EndArray()
	w.Key("platform")
	w.String(m.GetPlatform())
	for _, part := range []struct {
		key string
		ts  []*kpb.ModelMetadataResponse_TensorMetadata
	}{{"inputs", m.GetInputs()}, {"outputs", m.GetOutputs()}} {
		w.Key(part.key)
		w.StartArray()
		for _, t := range part.ts {
			w.StartObject()
			w.Key("name")
			w.String(t.GetName())
			w.Key("datatype")
			w.String(t.GetDatatype())
			w.Key("shape")
			w.StartArray()
			for _, d := range t.GetShape() {
				w.Int64(int64(int32(d)))
			}
			w.EndArray()
			w.EndObject()
		}
		w.EndArray()
	}
	if len(rtInfo) > 0 {
		w.Key("rt_info")
		w.Raw(rtInfo)
	}
	w.EndObject()
	return w.Flush()
}

// WriteServerMetadata writes the KServe server metadata as protobuf's
// compact JSON printer does (an empty version is left out).
func WriteServerMetadata(out io.Writer, name, version string) error {
	w := rjson.NewWriter(out)
	w.SetEscaping(rjson.EscapeProtobuf)
	w.StartObject()
	w.Key("name")
	w.String(name)
	if version != "" {
		w.Key("version")
		w.String(version)
	}
	w.EndObject()
	return w.Flush()
}
