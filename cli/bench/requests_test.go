package bench

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// f32Tensor is an FP32 input holding vals.
func f32Tensor(name string, shape []int64, vals ...float32) *inputTensor {
	t := &inputTensor{TensorInfo: TensorInfo{Name: name, Datatype: "FP32", Shape: shape}}
	t.dt, _ = lookupDType("FP32")
	for _, v := range vals {
		t.raw = binary.LittleEndian.AppendUint32(t.raw, math.Float32bits(v))
	}
	return t
}

func bytesTensor(name string, elems ...string) *inputTensor {
	t := &inputTensor{TensorInfo: TensorInfo{Name: name, Datatype: "BYTES", Shape: []int64{int64(len(elems))}}}
	t.dt, _ = lookupDType("BYTES")
	for _, e := range elems {
		t.strs = append(t.strs, []byte(e))
	}
	return t
}

func TestKServeGRPCRequestDecodesBack(t *testing.T) {
	inputs := []*inputTensor{f32Tensor("b", []int64{1, 3}, 1, 2.5, -3), bytesTensor("s", "ab", "")}
	b, err := marshal(kserveRequest("dummy", 2, inputs, nil))
	if err != nil {
		t.Fatal(err)
	}
	var req kpb.ModelInferRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.ModelName != "dummy" || req.ModelVersion != "2" || len(req.Inputs) != 2 || len(req.Outputs) != 0 {
		t.Fatalf("request %v", &req)
	}
	if in := req.Inputs[0]; in.Name != "b" || in.Datatype != "FP32" || !slices.Equal(in.Shape, []int64{1, 3}) || in.Parameters != nil {
		t.Errorf("input 0 %v", in)
	}
	if !slices.Equal(req.RawInputContents[0], inputs[0].raw) {
		t.Errorf("raw 0 = %x", req.RawInputContents[0])
	}
	// BYTES: each element after its 4-byte little-endian length.
	if want := []byte{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}; !slices.Equal(req.RawInputContents[1], want) {
		t.Errorf("raw 1 = %x, want %x", req.RawInputContents[1], want)
	}
	again, _ := marshal(kserveRequest("dummy", 2, inputs, nil))
	if !slices.Equal(b, again) {
		t.Error("marshalling is not deterministic")
	}
}

func TestKServeGRPCShmRequest(t *testing.T) {
	inputs := []*inputTensor{f32Tensor("b", []int64{1, 2}, 1, 2)}
	plan := &shmPlan{
		in:  []shmRef{{name: "b", region: "in_r", offset: 0, size: 8}},
		out: []shmRef{{name: "a", region: "out_r", offset: 64, size: 8}},
	}
	req := kserveRequest("dummy", 0, inputs, plan)
	if req.ModelVersion != "" || len(req.RawInputContents) != 0 || len(req.Outputs) != 1 {
		t.Fatalf("request %v", req)
	}
	check := func(what string, p map[string]*kpb.InferParameter, region string, off, size int64) {
		t.Helper()
		if p["shared_memory_region"].GetStringParam() != region || p["shared_memory_offset"].GetInt64Param() != off ||
			p["shared_memory_byte_size"].GetInt64Param() != size || len(p) != 3 {
			t.Errorf("%s parameters %v", what, p)
		}
	}
	check("input", req.Inputs[0].Parameters, "in_r", 0, 8)
	check("output", req.Outputs[0].Parameters, "out_r", 64, 8)
	if req.Outputs[0].Name != "a" {
		t.Errorf("output name %q", req.Outputs[0].Name)
	}
}

func TestTFSGRPCRequestDecodesBack(t *testing.T) {
	inputs := []*inputTensor{f32Tensor("b", []int64{1, 2}, 1, 2), bytesTensor("s", "xy")}
	b, err := marshal(tfsRequest("dummy", 3, inputs))
	if err != nil {
		t.Fatal(err)
	}
	var req tfspb.PredictRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.ModelSpec.Name != "dummy" || req.ModelSpec.GetVersion().GetValue() != 3 {
		t.Errorf("model spec %v", req.ModelSpec)
	}
	bt := req.Inputs["b"]
	if bt.Dtype != fw.DataType_DT_FLOAT || len(bt.TensorShape.Dim) != 2 || bt.TensorShape.Dim[1].Size != 2 ||
		!slices.Equal(bt.TensorContent, inputs[0].raw) {
		t.Errorf("input b %v", bt)
	}
	if st := req.Inputs["s"]; st.Dtype != fw.DataType_DT_STRING || len(st.StringVal) != 1 || string(st.StringVal[0]) != "xy" || st.TensorContent != nil {
		t.Errorf("input s %v", st)
	}
	if none, _ := marshal(tfsRequest("dummy", 0, inputs)); proto.Unmarshal(none, &req) != nil || req.ModelSpec.VersionChoice != nil {
		t.Errorf("version 0 sets a version: %v", req.ModelSpec)
	}
}

func TestRESTBodiesGolden(t *testing.T) {
	b := f32Tensor("b", []int64{1, 3}, 1, 2.5, -3)
	tests := []struct {
		name string
		body func() ([]byte, int)
		json string
	}{
		{"kserve json", func() ([]byte, int) { return kserveJSONBody([]*inputTensor{b}, []string{"a"}, false, nil) },
			`{"inputs":[{"name":"b","shape":[1,3],"datatype":"FP32","data":[1,2.5,-3]}]}`},
		{"kserve binary", func() ([]byte, int) { return kserveJSONBody([]*inputTensor{b}, []string{"a"}, true, nil) },
			`{"inputs":[{"name":"b","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}}],` +
				`"outputs":[{"name":"a","parameters":{"binary_data":true}}],"parameters":{"binary_data_output":true}}`},
		{"kserve shm", func() ([]byte, int) {
			plan := &shmPlan{in: []shmRef{{"b", "r_in", 0, 12}}, out: []shmRef{{"a", "r_out", 64, 12}}}
			return kserveJSONBody([]*inputTensor{b}, []string{"a"}, true, plan)
		}, `{"inputs":[{"name":"b","shape":[1,3],"datatype":"FP32","parameters":{"shared_memory_region":"r_in",` +
			`"shared_memory_offset":0,"shared_memory_byte_size":12}}],"outputs":[{"name":"a","parameters":` +
			`{"shared_memory_region":"r_out","shared_memory_offset":64,"shared_memory_byte_size":12}}]}`},
		{"kserve json bytes", func() ([]byte, int) { return kserveJSONBody([]*inputTensor{bytesTensor("s", "a\"b")}, nil, false, nil) },
			`{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":["a\"b"]}]}`},
		{"tfs column", func() ([]byte, int) {
			body := tfsRESTBody([]*inputTensor{f32Tensor("b", []int64{2, 1, 2}, 1, 2, 3, 4), bytesTensor("s", "ok", "\xff")})
			return body, len(body)
		}, `{"inputs":{"b":[[[1,2]],[[3,4]]],"s":["ok",{"b64":"/w=="}]}}`},
		{"tfs scalar", func() ([]byte, int) {
			body := tfsRESTBody([]*inputTensor{f32Tensor("x", []int64{}, 7.25)})
			return body, len(body)
		},
			`{"inputs":{"x":7.25}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, jsonLen := tt.body()
			if got := string(body[:jsonLen]); got != tt.json {
				t.Errorf("json\n got %s\nwant %s", got, tt.json)
			}
			if tt.name == "kserve binary" && !slices.Equal(body[jsonLen:], b.raw) {
				t.Errorf("binary part %x, want %x", body[jsonLen:], b.raw)
			}
		})
	}
}

// The bodies decode back (as a server following the protocols would read
// them) to the tensor's values; the integration suite sends them to ovms.
func TestRESTBodiesDecodeBack(t *testing.T) {
	b := f32Tensor("b", []int64{2, 2}, 1, 2.5, -3, 1e-7)
	want := []float32{1, 2.5, -3, 1e-7}
	var kreq struct {
		Inputs []struct {
			Name       string
			Shape      []int64
			Datatype   string
			Data       []float32
			Parameters map[string]int
		}
	}
	body, _ := kserveJSONBody([]*inputTensor{b}, nil, false, nil)
	if err := json.Unmarshal(body, &kreq); err != nil || !slices.Equal(kreq.Inputs[0].Data, want) || !slices.Equal(kreq.Inputs[0].Shape, b.Shape) {
		t.Errorf("kserve json: %+v %v", kreq, err)
	}
	body, jsonLen := kserveJSONBody([]*inputTensor{b}, []string{"a"}, true, nil)
	if err := json.Unmarshal(body[:jsonLen], &kreq); err != nil || kreq.Inputs[0].Parameters["binary_data_size"] != len(body)-jsonLen {
		t.Fatalf("kserve binary: %+v %v", kreq, err)
	}
	if got := f32s(body[jsonLen:]); !slices.Equal(got, want) {
		t.Errorf("kserve binary data %v", got)
	}
	var treq struct{ Inputs map[string][][]float32 }
	if err := json.Unmarshal(tfsRESTBody([]*inputTensor{b}), &treq); err != nil ||
		!slices.Equal(treq.Inputs["b"][0], want[:2]) || !slices.Equal(treq.Inputs["b"][1], want[2:]) {
		t.Errorf("tfs: %+v %v", treq, err)
	}
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
