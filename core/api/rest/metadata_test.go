package rest

import (
	"bytes"
	"testing"

	"github.com/ovmsgo/ovms/plugins/device"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tferr "github.com/ovmsgo/ovms/proto/tensorflow/core/protobuf"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// The expected bodies are OVMS's own test expectations (facts §4).
func TestWriteModelStatus(t *testing.T) {
	resp := &tfspb.GetModelStatusResponse{ModelVersionStatus: []*tfspb.ModelVersionStatus{{
		Version: 2, State: tfspb.ModelVersionStatus_START,
		Status: &tfspb.StatusProto{ErrorCode: tferr.Code_OK, ErrorMessage: "OK"},
	}}}
	want := "{\n \"model_version_status\": [\n  {\n   \"version\": \"2\",\n   \"state\": \"START\",\n   \"status\": {\n    \"error_code\": \"OK\",\n    \"error_message\": \"OK\"\n   }\n  }\n ]\n}\n"
	var b bytes.Buffer
	if err := WriteModelStatus(&b, resp); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteModelStatus(&b, &tfspb.GetModelStatusResponse{}); err != nil || b.String() != "{\n \"model_version_status\": []\n}\n" {
		t.Errorf("empty: %q %v", b.String(), err)
	}
}

func TestWriteModelMetadata(t *testing.T) {
	dim := func(n string) string {
		return "         {\n          \"size\": \"" + n + "\",\n          \"name\": \"\"\n         }"
	}
	info := func(name string) string {
		return "      \"" + name + "\": {\n       \"dtype\": \"DT_FLOAT\",\n       \"tensorShape\": {\n        \"dim\": [\n" + dim("1") + ",\n" + dim("10") +
			"\n        ],\n        \"unknownRank\": false\n       },\n       \"name\": \"" + name + "\"\n      }\n"
	}
	want := "{\n \"modelSpec\": {\n  \"name\": \"dummy\",\n  \"signatureName\": \"\",\n  \"version\": \"1\"\n },\n \"metadata\": {\n  \"signature_def\": {\n" +
		"   \"@type\": \"type.googleapis.com/tensorflow.serving.SignatureDefMap\",\n   \"signatureDef\": {\n    \"serving_default\": {\n     \"inputs\": {\n" +
		info("b") + "     },\n     \"outputs\": {\n" + info("a") + "     },\n     \"methodName\": \"\"\n    }\n   }\n  }\n }\n}\n"
	var b bytes.Buffer
	err := WriteModelMetadata(&b, "dummy", 1,
		[]device.TensorInfo{{Name: "b", DType: device.Float32, Shape: []int64{1, 10}}},
		[]device.TensorInfo{{Name: "a", DType: device.Float32, Shape: []int64{1, 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteModelMetadataSortsNamesAndPrintsScalars(t *testing.T) {
	var b bytes.Buffer
	err := WriteModelMetadata(&b, "m", 3, []device.TensorInfo{{Name: "z", DType: device.Int64}, {Name: "<a>", DType: device.String, Shape: []int64{-1}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n \"modelSpec\": {\n  \"name\": \"m\",\n  \"signatureName\": \"\",\n  \"version\": \"3\"\n },\n \"metadata\": {\n  \"signature_def\": {\n" +
		"   \"@type\": \"type.googleapis.com/tensorflow.serving.SignatureDefMap\",\n   \"signatureDef\": {\n    \"serving_default\": {\n     \"inputs\": {\n" +
		"      \"\\u003ca\\u003e\": {\n       \"dtype\": \"DT_STRING\",\n       \"tensorShape\": {\n        \"dim\": [\n         {\n          \"size\": \"-1\",\n          \"name\": \"\"\n         }\n        ],\n        \"unknownRank\": false\n       },\n       \"name\": \"\\u003ca\\u003e\"\n      },\n" +
		"      \"z\": {\n       \"dtype\": \"DT_INT64\",\n       \"tensorShape\": {\n        \"dim\": [],\n        \"unknownRank\": false\n       },\n       \"name\": \"z\"\n      }\n" +
		"     },\n     \"outputs\": {},\n     \"methodName\": \"\"\n    }\n   }\n  }\n }\n}\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteKServeMetadata(t *testing.T) {
	md := &kpb.ModelMetadataResponse{Name: "dummy", Versions: []string{"1"}, Platform: "OpenVINO",
		Inputs:  []*kpb.ModelMetadataResponse_TensorMetadata{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}},
		Outputs: []*kpb.ModelMetadataResponse_TensorMetadata{{Name: "a", Datatype: "FP32", Shape: []int64{-1, 10}}, {Name: "s", Datatype: "BYTES", Shape: []int64{}}}}
	want := `{"name":"dummy","versions":["1"],"platform":"OpenVINO","inputs":[{"name":"b","datatype":"FP32","shape":[1,10]}],"outputs":[{"name":"a","datatype":"FP32","shape":[-1,10]},{"name":"s","datatype":"BYTES","shape":[]}]}`
	var b bytes.Buffer
	if err := WriteKServeMetadata(&b, md, nil); err != nil || b.String() != want {
		t.Errorf("got %s (%v)\nwant %s", b.String(), err, want)
	}
	b.Reset()
	want = want[:len(want)-1] + `,"rt_info":{"model_info":{"labels":"cat dog","resolution":{"h":"224"}}}}`
	if err := WriteKServeMetadata(&b, md, []byte(`{"model_info":{"labels":"cat dog","resolution":{"h":"224"}}}`)); err != nil || b.String() != want {
		t.Errorf("got %s (%v)\nwant %s", b.String(), err, want)
	}
	b.Reset()
	if err := WriteServerMetadata(&b, "OpenVINO Model Server", "2026.2.0"); err != nil || b.String() != `{"name":"OpenVINO Model Server","version":"2026.2.0"}` {
		t.Errorf("server metadata %s (%v)", b.String(), err)
	}
}
