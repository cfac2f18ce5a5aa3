package protocompat_test

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	kservepb "github.com/ovmsgo/ovms/proto/kserve"
	frameworkpb "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tferrorpb "github.com/ovmsgo/ovms/proto/tensorflow/core/protobuf"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

func TestMethodPaths(t *testing.T) {
	cases := map[string]string{
		tfspb.PredictionService_Classify_FullMethodName:               "/tensorflow.serving.PredictionService/Classify",
		tfspb.PredictionService_Regress_FullMethodName:                "/tensorflow.serving.PredictionService/Regress",
		tfspb.PredictionService_Predict_FullMethodName:                "/tensorflow.serving.PredictionService/Predict",
		tfspb.PredictionService_MultiInference_FullMethodName:         "/tensorflow.serving.PredictionService/MultiInference",
		tfspb.PredictionService_GetModelMetadata_FullMethodName:       "/tensorflow.serving.PredictionService/GetModelMetadata",
		tfspb.ModelService_GetModelStatus_FullMethodName:              "/tensorflow.serving.ModelService/GetModelStatus",
		tfspb.ModelService_HandleReloadConfigRequest_FullMethodName:   "/tensorflow.serving.ModelService/HandleReloadConfigRequest",
		kservepb.GRPCInferenceService_ServerLive_FullMethodName:       "/inference.GRPCInferenceService/ServerLive",
		kservepb.GRPCInferenceService_ServerReady_FullMethodName:      "/inference.GRPCInferenceService/ServerReady",
		kservepb.GRPCInferenceService_ModelReady_FullMethodName:       "/inference.GRPCInferenceService/ModelReady",
		kservepb.GRPCInferenceService_ServerMetadata_FullMethodName:   "/inference.GRPCInferenceService/ServerMetadata",
		kservepb.GRPCInferenceService_ModelMetadata_FullMethodName:    "/inference.GRPCInferenceService/ModelMetadata",
		kservepb.GRPCInferenceService_ModelInfer_FullMethodName:       "/inference.GRPCInferenceService/ModelInfer",
		kservepb.GRPCInferenceService_ModelStreamInfer_FullMethodName: "/inference.GRPCInferenceService/ModelStreamInfer",
		// Triton's system shared-memory extension, in the same service.
		kservepb.GRPCInferenceService_SystemSharedMemoryStatus_FullMethodName:     "/inference.GRPCInferenceService/SystemSharedMemoryStatus",
		kservepb.GRPCInferenceService_SystemSharedMemoryRegister_FullMethodName:   "/inference.GRPCInferenceService/SystemSharedMemoryRegister",
		kservepb.GRPCInferenceService_SystemSharedMemoryUnregister_FullMethodName: "/inference.GRPCInferenceService/SystemSharedMemoryUnregister",
		// Triton's model repository extension, in the same service.
		kservepb.GRPCInferenceService_RepositoryIndex_FullMethodName:       "/inference.GRPCInferenceService/RepositoryIndex",
		kservepb.GRPCInferenceService_RepositoryModelLoad_FullMethodName:   "/inference.GRPCInferenceService/RepositoryModelLoad",
		kservepb.GRPCInferenceService_RepositoryModelUnload_FullMethodName: "/inference.GRPCInferenceService/RepositoryModelUnload",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("method path %q, want %q", got, want)
		}
	}

	if got := tfspb.PredictionService_ServiceDesc.ServiceName; got != "tensorflow.serving.PredictionService" {
		t.Errorf("PredictionService name %q", got)
	}
	if got := tfspb.ModelService_ServiceDesc.ServiceName; got != "tensorflow.serving.ModelService" {
		t.Errorf("ModelService name %q", got)
	}
	desc := kservepb.GRPCInferenceService_ServiceDesc
	if desc.ServiceName != "inference.GRPCInferenceService" {
		t.Errorf("GRPCInferenceService name %q", desc.ServiceName)
	}
	if len(desc.Methods) != 12 || len(desc.Streams) != 1 {
		t.Errorf("GRPCInferenceService has %d unary and %d streaming methods, want 12 and 1", len(desc.Methods), len(desc.Streams))
	}
	if s := desc.Streams[0]; s.StreamName != "ModelStreamInfer" || !s.ClientStreams || !s.ServerStreams {
		t.Errorf("ModelStreamInfer stream desc %+v, want bidirectional", s)
	}
}

// TestFullNames pins message full names: they appear in Any type URLs and in
// gRPC reflection, so they must equal the upstream ones.
func TestFullNames(t *testing.T) {
	cases := []struct {
		msg  proto.Message
		want protoreflect.FullName
	}{
		{&frameworkpb.TensorProto{}, "tensorflow.TensorProto"},
		{&frameworkpb.TensorShapeProto_Dim{}, "tensorflow.TensorShapeProto.Dim"},
		{&frameworkpb.SignatureDef{}, "tensorflow.SignatureDef"},
		{&frameworkpb.TensorInfo{}, "tensorflow.TensorInfo"},
		{&tfspb.SignatureDefMap{}, "tensorflow.serving.SignatureDefMap"},
		{&tfspb.ModelSpec{}, "tensorflow.serving.ModelSpec"},
		{&tfspb.PredictRequest{}, "tensorflow.serving.PredictRequest"},
		{&tfspb.StatusProto{}, "tensorflow.serving.StatusProto"},
		{&tfspb.ModelServerConfig{}, "tensorflow.serving.ModelServerConfig"},
		{&tfspb.MultiInferenceRequest{}, "tensorflow.serving.MultiInferenceRequest"},
		{&kservepb.ModelInferRequest_InferInputTensor{}, "inference.ModelInferRequest.InferInputTensor"},
		{&kservepb.ModelStreamInferResponse{}, "inference.ModelStreamInferResponse"},
	}
	for _, c := range cases {
		if got := c.msg.ProtoReflect().Descriptor().FullName(); got != c.want {
			t.Errorf("full name %q, want %q", got, c.want)
		}
	}
	if got := tferrorpb.Code_OK.Descriptor().FullName(); got != "tensorflow.error.Code" {
		t.Errorf("error code enum %q, want tensorflow.error.Code", got)
	}

	a, err := anypb.New(&tfspb.SignatureDefMap{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "type.googleapis.com/tensorflow.serving.SignatureDefMap"; a.GetTypeUrl() != want {
		t.Errorf("Any type URL %q, want %q", a.GetTypeUrl(), want)
	}
}

type fieldCase struct {
	name   protoreflect.Name
	number protoreflect.FieldNumber
	kind   protoreflect.Kind
	list   bool
}

func checkFields(t *testing.T, m proto.Message, cases []fieldCase) {
	t.Helper()
	md := m.ProtoReflect().Descriptor()
	for _, c := range cases {
		fd := md.Fields().ByName(c.name)
		if fd == nil {
			t.Errorf("%s: no field %s", md.FullName(), c.name)
			continue
		}
		if fd.Number() != c.number || fd.Kind() != c.kind || fd.IsList() != c.list {
			t.Errorf("%s.%s = %d %v list=%v, want %d %v list=%v",
				md.FullName(), c.name, fd.Number(), fd.Kind(), fd.IsList(), c.number, c.kind, c.list)
		}
		if fd.IsList() && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind &&
			fd.Kind() != protoreflect.MessageKind && !fd.IsPacked() {
			t.Errorf("%s.%s is not packed", md.FullName(), c.name)
		}
	}
}

func TestFieldNumbers(t *testing.T) {
	const (
		bl  = protoreflect.BoolKind
		i32 = protoreflect.Int32Kind
		i64 = protoreflect.Int64Kind
		u32 = protoreflect.Uint32Kind
		u64 = protoreflect.Uint64Kind
		f32 = protoreflect.FloatKind
		f64 = protoreflect.DoubleKind
		str = protoreflect.StringKind
		byt = protoreflect.BytesKind
		enm = protoreflect.EnumKind
		msg = protoreflect.MessageKind
	)
	checkFields(t, &frameworkpb.TensorProto{}, []fieldCase{
		{"dtype", 1, enm, false},
		{"tensor_shape", 2, msg, false},
		{"version_number", 3, i32, false},
		{"tensor_content", 4, byt, false},
		{"float_val", 5, f32, true},
		{"double_val", 6, f64, true},
		{"int_val", 7, i32, true},
		{"string_val", 8, byt, true},
		{"scomplex_val", 9, f32, true},
		{"int64_val", 10, i64, true},
		{"bool_val", 11, bl, true},
		{"dcomplex_val", 12, f64, true},
		{"half_val", 13, i32, true},
		{"uint32_val", 16, u32, true},
		{"uint64_val", 17, u64, true},
	})
	checkFields(t, &frameworkpb.TensorShapeProto{}, []fieldCase{
		{"dim", 2, msg, true},
		{"unknown_rank", 3, bl, false},
	})
	checkFields(t, &frameworkpb.TensorShapeProto_Dim{}, []fieldCase{
		{"size", 1, i64, false},
		{"name", 2, str, false},
	})
	checkFields(t, &frameworkpb.TensorInfo{}, []fieldCase{
		{"name", 1, str, false},
		{"dtype", 2, enm, false},
		{"tensor_shape", 3, msg, false},
		{"coo_sparse", 4, msg, false},
	})
	checkFields(t, &frameworkpb.SignatureDef{}, []fieldCase{
		{"inputs", 1, msg, false},
		{"outputs", 2, msg, false},
		{"method_name", 3, str, false},
		{"defaults", 4, msg, false},
	})
	checkFields(t, &tfspb.ModelSpec{}, []fieldCase{
		{"name", 1, str, false},
		{"version", 2, msg, false},
		{"signature_name", 3, str, false},
		{"version_label", 4, str, false},
	})
	checkFields(t, &tfspb.PredictRequest{}, []fieldCase{
		{"model_spec", 1, msg, false},
		{"inputs", 2, msg, false},
		{"output_filter", 3, str, true},
	})
	checkFields(t, &tfspb.PredictResponse{}, []fieldCase{
		{"outputs", 1, msg, false},
		{"model_spec", 2, msg, false},
	})
	checkFields(t, &tfspb.SignatureDefMap{}, []fieldCase{{"signature_def", 1, msg, false}})
	checkFields(t, &tfspb.GetModelMetadataRequest{}, []fieldCase{
		{"model_spec", 1, msg, false},
		{"metadata_field", 2, str, true},
	})
	checkFields(t, &tfspb.GetModelMetadataResponse{}, []fieldCase{
		{"model_spec", 1, msg, false},
		{"metadata", 2, msg, false},
	})
	checkFields(t, &tfspb.GetModelStatusRequest{}, []fieldCase{{"model_spec", 1, msg, false}})
	checkFields(t, &tfspb.GetModelStatusResponse{}, []fieldCase{{"model_version_status", 1, msg, true}})
	checkFields(t, &tfspb.ModelVersionStatus{}, []fieldCase{
		{"version", 1, i64, false},
		{"state", 2, enm, false},
		{"status", 3, msg, false},
	})
	checkFields(t, &tfspb.StatusProto{}, []fieldCase{
		{"error_code", 1, enm, false},
		{"error_message", 2, str, false},
	})
	checkFields(t, &tfspb.ReloadConfigRequest{}, []fieldCase{
		{"config", 1, msg, false},
		{"metric_names", 2, str, true},
	})
	checkFields(t, &tfspb.ReloadConfigResponse{}, []fieldCase{
		{"status", 1, msg, false},
		{"metric", 2, msg, true},
	})
	checkFields(t, &tfspb.ModelServerConfig{}, []fieldCase{
		{"model_config_list", 1, msg, false},
		{"custom_model_config", 2, msg, false},
	})
	checkFields(t, &tfspb.ModelConfig{}, []fieldCase{
		{"name", 1, str, false},
		{"base_path", 2, str, false},
		{"model_platform", 4, str, false},
		{"model_version_policy", 7, msg, false},
		{"version_labels", 8, msg, false},
	})
	checkFields(t, &kservepb.ModelInferRequest{}, []fieldCase{
		{"model_name", 1, str, false},
		{"model_version", 2, str, false},
		{"id", 3, str, false},
		{"parameters", 4, msg, false},
		{"inputs", 5, msg, true},
		{"outputs", 6, msg, true},
		{"raw_input_contents", 7, byt, true},
	})
	checkFields(t, &kservepb.ModelInferRequest_InferInputTensor{}, []fieldCase{
		{"name", 1, str, false},
		{"datatype", 2, str, false},
		{"shape", 3, i64, true},
		{"parameters", 4, msg, false},
		{"contents", 5, msg, false},
	})
	checkFields(t, &kservepb.ModelInferResponse{}, []fieldCase{
		{"model_name", 1, str, false},
		{"model_version", 2, str, false},
		{"id", 3, str, false},
		{"parameters", 4, msg, false},
		{"outputs", 5, msg, true},
		{"raw_output_contents", 6, byt, true},
	})
	checkFields(t, &kservepb.InferParameter{}, []fieldCase{
		{"bool_param", 1, bl, false},
		{"int64_param", 2, i64, false},
		{"string_param", 3, str, false},
		{"double_param", 4, f64, false},
		{"uint64_param", 5, u64, false},
	})
	checkFields(t, &kservepb.InferTensorContents{}, []fieldCase{
		{"bool_contents", 1, bl, true},
		{"int_contents", 2, i32, true},
		{"int64_contents", 3, i64, true},
		{"uint_contents", 4, u32, true},
		{"uint64_contents", 5, u64, true},
		{"fp32_contents", 6, f32, true},
		{"fp64_contents", 7, f64, true},
		{"bytes_contents", 8, byt, true},
	})
	checkFields(t, &kservepb.ModelMetadataResponse{}, []fieldCase{
		{"name", 1, str, false},
		{"versions", 2, str, true},
		{"platform", 3, str, false},
		{"inputs", 4, msg, true},
		{"outputs", 5, msg, true},
		{"properties", 6, msg, false},
	})
	checkFields(t, &kservepb.ModelStreamInferResponse{}, []fieldCase{
		{"error_message", 1, str, false},
		{"infer_response", 2, msg, false},
	})

	// The version choice is a oneof: setting one member clears the other.
	if od := (&tfspb.ModelSpec{}).ProtoReflect().Descriptor().Oneofs().ByName("version_choice"); od == nil || od.Fields().Len() != 2 {
		t.Errorf("ModelSpec.version_choice oneof missing or wrong size")
	}
}

func TestEnumNumbers(t *testing.T) {
	dtypes := map[frameworkpb.DataType]int32{
		frameworkpb.DataType_DT_INVALID:    0,
		frameworkpb.DataType_DT_FLOAT:      1,
		frameworkpb.DataType_DT_DOUBLE:     2,
		frameworkpb.DataType_DT_INT32:      3,
		frameworkpb.DataType_DT_UINT8:      4,
		frameworkpb.DataType_DT_INT16:      5,
		frameworkpb.DataType_DT_INT8:       6,
		frameworkpb.DataType_DT_STRING:     7,
		frameworkpb.DataType_DT_INT64:      9,
		frameworkpb.DataType_DT_BOOL:       10,
		frameworkpb.DataType_DT_BFLOAT16:   14,
		frameworkpb.DataType_DT_UINT16:     17,
		frameworkpb.DataType_DT_HALF:       19,
		frameworkpb.DataType_DT_UINT32:     22,
		frameworkpb.DataType_DT_UINT64:     23,
		frameworkpb.DataType_DT_FLOAT_REF:  101,
		frameworkpb.DataType_DT_UINT64_REF: 123,
	}
	for v, want := range dtypes {
		if int32(v) != want {
			t.Errorf("%v = %d, want %d", v, v, want)
		}
	}
	states := map[tfspb.ModelVersionStatus_State]int32{
		tfspb.ModelVersionStatus_UNKNOWN:   0,
		tfspb.ModelVersionStatus_START:     10,
		tfspb.ModelVersionStatus_LOADING:   20,
		tfspb.ModelVersionStatus_AVAILABLE: 30,
		tfspb.ModelVersionStatus_UNLOADING: 40,
		tfspb.ModelVersionStatus_END:       50,
	}
	for v, want := range states {
		if int32(v) != want {
			t.Errorf("%v = %d, want %d", v, v, want)
		}
	}
	codes := map[tferrorpb.Code]int32{
		tferrorpb.Code_OK:                  0,
		tferrorpb.Code_INVALID_ARGUMENT:    3,
		tferrorpb.Code_NOT_FOUND:           5,
		tferrorpb.Code_FAILED_PRECONDITION: 9,
		tferrorpb.Code_UNIMPLEMENTED:       12,
		tferrorpb.Code_UNAVAILABLE:         14,
		tferrorpb.Code_UNAUTHENTICATED:     16,
	}
	for v, want := range codes {
		if int32(v) != want {
			t.Errorf("%v = %d, want %d", v, v, want)
		}
	}
}

// appendMessage appends field num holding the message whose bytes are b.
func appendMessage(dst []byte, num protowire.Number, b []byte) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, b)
}

func appendString(dst []byte, num protowire.Number, s string) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func appendVarint(dst []byte, num protowire.Number, v uint64) []byte {
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

// TestPredictRequestWire decodes a PredictRequest encoded by hand the way a
// TensorFlow Serving client encodes it, and checks that it survives a
// re-encoding.
func TestPredictRequestWire(t *testing.T) {
	// ModelSpec{name: "resnet", version: {value: 3}, signature_name: "serving_default"}
	var version []byte
	version = appendVarint(version, 1, 3)
	var spec []byte
	spec = appendString(spec, 1, "resnet")
	spec = appendMessage(spec, 2, version)
	spec = appendString(spec, 3, "serving_default")

	// TensorProto{dtype: DT_FLOAT, tensor_shape: {dim: [{size: 1}, {size: 3}]}, float_val: [1.5, -2, 0.25]}
	var shape []byte
	for _, size := range []uint64{1, 3} {
		shape = appendMessage(shape, 2, appendVarint(nil, 1, size))
	}
	var floats []byte
	for _, f := range []float32{1.5, -2, 0.25} {
		floats = protowire.AppendFixed32(floats, math.Float32bits(f))
	}
	var tensor []byte
	tensor = appendVarint(tensor, 1, uint64(frameworkpb.DataType_DT_FLOAT))
	tensor = appendMessage(tensor, 2, shape)
	tensor = appendMessage(tensor, 5, floats) // packed: one length-delimited record

	// map<string, TensorProto> inputs: an entry {key = 1, value = 2}.
	var entry []byte
	entry = appendString(entry, 1, "input_1")
	entry = appendMessage(entry, 2, tensor)

	var wire []byte
	wire = appendMessage(wire, 1, spec)
	wire = appendMessage(wire, 2, entry)
	wire = appendString(wire, 3, "probs")

	var req tfspb.PredictRequest
	if err := proto.Unmarshal(wire, &req); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if len(req.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("unexpected unknown fields")
	}
	ms := req.GetModelSpec()
	if ms.GetName() != "resnet" || ms.GetVersion().GetValue() != 3 || ms.GetSignatureName() != "serving_default" {
		t.Errorf("model_spec = %v", ms)
	}
	in := req.GetInputs()["input_1"]
	if in == nil {
		t.Fatalf("inputs = %v, want key input_1", req.GetInputs())
	}
	if in.GetDtype() != frameworkpb.DataType_DT_FLOAT {
		t.Errorf("dtype = %v", in.GetDtype())
	}
	dims := in.GetTensorShape().GetDim()
	if len(dims) != 2 || dims[0].GetSize() != 1 || dims[1].GetSize() != 3 {
		t.Errorf("shape = %v", in.GetTensorShape())
	}
	if got := in.GetFloatVal(); len(got) != 3 || got[0] != 1.5 || got[1] != -2 || got[2] != 0.25 {
		t.Errorf("float_val = %v", got)
	}
	if got := req.GetOutputFilter(); len(got) != 1 || got[0] != "probs" {
		t.Errorf("output_filter = %v", got)
	}

	// Go writes oneof members (ModelSpec.version) after the other fields,
	// where a C++ peer writes fields in number order. Field order carries no
	// meaning on the wire, so compare what the re-encoded bytes decode to.
	out, err := proto.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	var again tfspb.PredictRequest
	if err := proto.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&again, &req) {
		t.Errorf("re-encoded request decodes as %v, want %v", &again, &req)
	}
}

// TestHalfValPacked checks that half_val is written packed and that both the
// packed and the unpacked forms decode, as protobuf parsers must accept both.
func TestHalfValPacked(t *testing.T) {
	halves := []int32{0x3c00, 0xc000} // 1.0 and -2.0 as IEEE half bit patterns
	out, err := proto.Marshal(&frameworkpb.TensorProto{HalfVal: halves})
	if err != nil {
		t.Fatal(err)
	}
	var packed []byte
	for _, h := range halves {
		packed = protowire.AppendVarint(packed, uint64(h))
	}
	if want := appendMessage(nil, 13, packed); !bytes.Equal(out, want) {
		t.Errorf("half_val encoding %x, want packed %x", out, want)
	}

	var unpacked []byte
	for _, h := range halves {
		unpacked = appendVarint(unpacked, 13, uint64(h))
	}
	var tp frameworkpb.TensorProto
	if err := proto.Unmarshal(unpacked, &tp); err != nil {
		t.Fatal(err)
	}
	if got := tp.GetHalfVal(); len(got) != 2 || got[0] != halves[0] || got[1] != halves[1] {
		t.Errorf("unpacked half_val decoded as %v", got)
	}
}

// TestModelInferRequestWire decodes a KServe request carrying raw input bytes,
// encoded by hand, and checks that re-encoding gives the same bytes.
func TestModelInferRequestWire(t *testing.T) {
	raw := make([]byte, 8)
	for i, f := range []float32{1, 2} {
		b := math.Float32bits(f)
		raw[4*i], raw[4*i+1], raw[4*i+2], raw[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
	}
	var dims []byte
	dims = protowire.AppendVarint(dims, 1)
	dims = protowire.AppendVarint(dims, 2)

	// InferParameter{double_param: 0.5} under the key "temperature".
	var param []byte
	param = protowire.AppendTag(param, 4, protowire.Fixed64Type)
	param = protowire.AppendFixed64(param, math.Float64bits(0.5))
	var paramEntry []byte
	paramEntry = appendString(paramEntry, 1, "temperature")
	paramEntry = appendMessage(paramEntry, 2, param)

	var input []byte
	input = appendString(input, 1, "x")
	input = appendString(input, 2, "FP32")
	input = appendMessage(input, 3, dims)

	var wire []byte
	wire = appendString(wire, 1, "model")
	wire = appendString(wire, 2, "1")
	wire = appendString(wire, 3, "req-7")
	wire = appendMessage(wire, 4, paramEntry)
	wire = appendMessage(wire, 5, input)
	wire = appendMessage(wire, 6, appendString(nil, 1, "y"))
	wire = appendMessage(wire, 7, raw)

	var req kservepb.ModelInferRequest
	if err := proto.Unmarshal(wire, &req); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if req.GetModelName() != "model" || req.GetModelVersion() != "1" || req.GetId() != "req-7" {
		t.Errorf("header = %q %q %q", req.GetModelName(), req.GetModelVersion(), req.GetId())
	}
	if p := req.GetParameters()["temperature"]; p.GetDoubleParam() != 0.5 {
		t.Errorf("parameters = %v", req.GetParameters())
	}
	if len(req.GetInputs()) != 1 {
		t.Fatalf("inputs = %v", req.GetInputs())
	}
	if in := req.GetInputs()[0]; in.GetName() != "x" || in.GetDatatype() != "FP32" || len(in.GetShape()) != 2 || in.GetShape()[1] != 2 {
		t.Errorf("input = %v", in)
	}
	if len(req.GetOutputs()) != 1 || req.GetOutputs()[0].GetName() != "y" {
		t.Errorf("outputs = %v", req.GetOutputs())
	}
	if rc := req.GetRawInputContents(); len(rc) != 1 || !bytes.Equal(rc[0], raw) {
		t.Errorf("raw_input_contents = %x", rc)
	}

	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, wire) {
		t.Errorf("re-encoded bytes differ:\n got %x\nwant %x", out, wire)
	}
}

// TestMetadataAny round-trips a GetModelMetadataResponse whose signature_def
// entry is an Any holding a SignatureDefMap, as TensorFlow Serving clients
// expect it.
func TestMetadataAny(t *testing.T) {
	sigs := &tfspb.SignatureDefMap{SignatureDef: map[string]*frameworkpb.SignatureDef{
		"serving_default": {
			Inputs: map[string]*frameworkpb.TensorInfo{
				"x": {
					Encoding: &frameworkpb.TensorInfo_Name{Name: "x"},
					Dtype:    frameworkpb.DataType_DT_FLOAT,
					TensorShape: &frameworkpb.TensorShapeProto{Dim: []*frameworkpb.TensorShapeProto_Dim{
						{Size: -1}, {Size: 3},
					}},
				},
			},
			MethodName: "tensorflow/serving/predict",
		},
	}}
	a, err := anypb.New(sigs)
	if err != nil {
		t.Fatal(err)
	}
	resp := &tfspb.GetModelMetadataResponse{
		ModelSpec: &tfspb.ModelSpec{
			Name:          "m",
			VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(2)},
		},
		Metadata: map[string]*anypb.Any{"signature_def": a},
	}
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var got tfspb.GetModelMetadataResponse
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var gotSigs tfspb.SignatureDefMap
	if err := got.GetMetadata()["signature_def"].UnmarshalTo(&gotSigs); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&gotSigs, sigs) {
		t.Errorf("signature_def = %v, want %v", &gotSigs, sigs)
	}
	if got.GetModelSpec().GetVersion().GetValue() != 2 {
		t.Errorf("model_spec = %v", got.GetModelSpec())
	}
}
