package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// statefulConfig writes a config.json serving the RNN test model three
// ways: "rnn" stateful (the server keeps h), "rnn_explicit" stateless (the
// client sends h_in and reads h_out), and "vad" stateful with a symbolic
// batch dimension; extra is added to rnn's config.
func statefulConfig(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := fmt.Sprintf(`{"model_config_list": [
		{"config": {"name": "rnn", "base_path": %q, "stateful": true, "state_mapping": {"h_in": "h_out"}%s}},
		{"config": {"name": "rnn_explicit", "base_path": %q}},
		{"config": {"name": "vad", "base_path": %q, "stateful": true, "state_mapping": {"state": "stateN"}, "idle_sequence_cleanup": false}}
	]}`, filepath.Join(modelsDir, "rnn_stateful"), extra, filepath.Join(modelsDir, "rnn_stateful"), filepath.Join(modelsDir, "vad_stateful"))
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// seqInputs are the special inputs of a TFS request: nil leaves one out.
func seqInputs(in map[string]*fw.TensorProto, id *uint64, control *uint32) map[string]*fw.TensorProto {
	if id != nil {
		in["sequence_id"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT64, TensorShape: shape(1), Uint64Val: []uint64{*id}}
	}
	if control != nil {
		in["sequence_control_input"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT32, TensorShape: shape(1), Uint32Val: []uint32{*control}}
	}
	return in
}

func u64(v uint64) *uint64 { return &v }
func u32(v uint32) *uint32 { return &v }

// rnnStep runs one step of sequence id on the stateful "rnn" over TFS gRPC
// and returns out and the sequence_id output.
func rnnStep(t *testing.T, pc tfspb.PredictionServiceClient, id uint64, control uint32, x []float32) ([]float32, uint64, error) {
	resp, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "rnn"},
		Inputs: seqInputs(map[string]*fw.TensorProto{"x": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: x}}, u64(id), u32(control))})
	if err != nil {
		return nil, 0, err
	}
	sid := resp.Outputs["sequence_id"]
	if sid == nil || sid.Dtype != fw.DataType_DT_UINT64 || len(sid.Uint64Val) != 1 || len(sid.TensorShape.GetDim()) != 1 || sid.TensorShape.Dim[0].Size != 1 {
		t.Fatalf("sequence_id output %v", sid)
	}
	if len(resp.Outputs) != 2 {
		t.Fatalf("outputs %v: want out and sequence_id (no state)", resp.Outputs)
	}
	return f32s(resp.Outputs["out"].TensorContent), sid.Uint64Val[0], nil
}

// explicitStep runs one step on the stateless "rnn_explicit", the state
// sent and returned by the client.
func explicitStep(t *testing.T, pc tfspb.PredictionServiceClient, x, h []float32) (out, hNext []float32) {
	resp, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "rnn_explicit"},
		Inputs: map[string]*fw.TensorProto{
			"x":    {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: x},
			"h_in": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: h},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return f32s(resp.Outputs["out"].TensorContent), f32s(resp.Outputs["h_out"].TensorContent)
}

// stepsOf makes n random inputs of a sequence.
func stepsOf(r *rand.Rand, n int) [][]float32 {
	xs := make([][]float32, n)
	for i := range xs {
		xs[i] = []float32{r.Float32()*2 - 1, r.Float32()*2 - 1, r.Float32()*2 - 1, r.Float32()*2 - 1}
	}
	return xs
}

// reference runs a sequence on rnn_explicit, one step at a time.
func reference(t *testing.T, pc tfspb.PredictionServiceClient, xs [][]float32) [][]float32 {
	h := make([]float32, 4)
	outs := make([][]float32, len(xs))
	for i, x := range xs {
		outs[i], h = explicitStep(t, pc, x, h)
	}
	return outs
}

// runSequence runs xs as sequence id on rnn: start, continue, end.
func runSequence(t *testing.T, pc tfspb.PredictionServiceClient, id uint64, xs [][]float32) ([][]float32, error) {
	outs := make([][]float32, len(xs))
	for i, x := range xs {
		control := uint32(0)
		switch i {
		case 0:
			control = 1
		case len(xs) - 1:
			control = 2
		}
		out, got, err := rnnStep(t, pc, id, control, x)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
		if got != id {
			return nil, fmt.Errorf("step %d: sequence_id %d, want %d", i, got, id)
		}
		outs[i] = out
	}
	return outs, nil
}

func close32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// wantCode checks a gRPC error's code and message.
func wantCode(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code || st.Message() != msg {
		t.Errorf("%s: got %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
}

// TestStatefulSequence runs sequences on the stateful RNN through TF
// Serving gRPC: start, continue, end, a server-assigned id, the state kept
// by the server equal to the state sent by the client to the same model
// served stateless, the state hidden from the metadata, and a sequence
// forgotten after its end.
func TestStatefulSequence(t *testing.T) {
	s := startArgs(t, "--config_path", statefulConfig(t, ""))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	xs := stepsOf(rand.New(rand.NewPCG(1, 2)), 6)
	want := reference(t, pc, xs)
	got, err := runSequence(t, pc, 42, xs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range xs {
		if !close32(got[i], want[i]) {
			t.Fatalf("step %d: server-held state gives %v, explicit state %v", i, got[i], want[i])
		}
	}
	if close32(got[1], got[0]) || close32(got[2], got[1]) {
		t.Fatalf("the state did not change the outputs: %v", got)
	}
	_, _, err = rnnStep(t, pc, 42, 0, xs[0])
	wantCode(t, "after end", err, codes.NotFound, "Sequence with provided ID does not exist")

	// A start without an id, or with id 0: the server assigns one.
	_, id1, err := rnnStep(t, pc, 0, 1, xs[0])
	if err != nil || id1 == 0 {
		t.Fatalf("assigned id %d, %v", id1, err)
	}
	resp, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "rnn"},
		Inputs: seqInputs(map[string]*fw.TensorProto{"x": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: xs[0]}}, nil, u32(1))})
	if err != nil {
		t.Fatal(err)
	}
	id2 := resp.Outputs["sequence_id"].GetUint64Val()[0]
	if id2 == 0 || id2 == id1 {
		t.Fatalf("assigned ids %d then %d", id1, id2)
	}
	if out, _, err := rnnStep(t, pc, id1, 0, xs[1]); err != nil || !close32(out, want[1]) {
		t.Fatalf("continuing assigned sequence %d: %v %v, want %v", id1, out, err, want[1])
	}

	md, err := pc.GetModelMetadata(ctx(t), &tfspb.GetModelMetadataRequest{ModelSpec: &tfspb.ModelSpec{Name: "rnn"}, MetadataField: []string{"signature_def"}})
	if err != nil {
		t.Fatal(err)
	}
	var sigs tfspb.SignatureDefMap
	if err := md.Metadata["signature_def"].UnmarshalTo(&sigs); err != nil {
		t.Fatal(err)
	}
	sig := sigs.SignatureDef["serving_default"]
	if len(sig.Inputs) != 1 || sig.Inputs["x"] == nil || len(sig.Outputs) != 1 || sig.Outputs["out"] == nil {
		t.Fatalf("metadata shows state tensors: inputs %v outputs %v", sig.Inputs, sig.Outputs)
	}

	// REST column format, as OVMS documents it.
	code, body := post(t, s.url("/v1/models/rnn:predict"), `{"inputs": {"sequence_id": [77], "sequence_control_input": [1], "x": [[0.5, -0.5, 0.25, 0]]}}`)
	if code != 200 || !strings.Contains(body, `"sequence_id": [`) || !strings.Contains(body, "77") {
		t.Fatalf("REST start: %d %s", code, body)
	}
	code, body = post(t, s.url("/v1/models/rnn:predict"), `{"inputs": {"sequence_id": [77], "sequence_control_input": [2], "x": [[0.5, -0.5, 0.25, 0]]}}`)
	if code != 200 {
		t.Fatalf("REST end: %d %s", code, body)
	}
}

// TestStatefulErrors checks every sequence error with OVMS's message and
// status, over TF Serving gRPC and REST.
func TestStatefulErrors(t *testing.T) {
	s := startArgs(t, "--config_path", statefulConfig(t, `, "max_sequence_number": 2`))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	x := []float32{0.1, 0.2, 0.3, 0.4}
	xin := func() map[string]*fw.TensorProto {
		return map[string]*fw.TensorProto{"x": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: x}}
	}
	predict := func(model string, in map[string]*fw.TensorProto) error {
		_, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: model}, Inputs: in})
		return err
	}
	wantCode(t, "unknown id", predict("rnn", seqInputs(xin(), u64(5), u32(0))), codes.NotFound, "Sequence with provided ID does not exist")
	wantCode(t, "end of unknown id", predict("rnn", seqInputs(xin(), u64(5), u32(2))), codes.NotFound, "Sequence with provided ID does not exist")
	if err := predict("rnn", seqInputs(xin(), u64(5), u32(1))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "id in use", predict("rnn", seqInputs(xin(), u64(5), u32(1))), codes.AlreadyExists, "Sequence with provided ID already exists")
	wantCode(t, "no id", predict("rnn", seqInputs(xin(), nil, u32(0))), codes.InvalidArgument, "Sequence ID has not been provided in request inputs")
	wantCode(t, "no special input", predict("rnn", xin()), codes.InvalidArgument, "Sequence ID has not been provided in request inputs")
	wantCode(t, "id 0", predict("rnn", seqInputs(xin(), u64(0), u32(0))), codes.InvalidArgument, "Sequence ID has not been provided in request inputs")
	wantCode(t, "control 3", predict("rnn", seqInputs(xin(), u64(5), u32(3))), codes.InvalidArgument, "Unexpected value of sequence control input")
	in := xin()
	in["sequence_id"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT32, TensorShape: shape(1), Uint32Val: []uint32{5}}
	wantCode(t, "id in uint32_val", predict("rnn", in), codes.InvalidArgument, "Could not find sequence id in expected tensor proto field uint64_val")
	in = seqInputs(xin(), u64(5), nil)
	in["sequence_control_input"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT64, TensorShape: shape(1), Uint64Val: []uint64{0}}
	wantCode(t, "control in uint64_val", predict("rnn", in), codes.InvalidArgument, "Could not find sequence control input in expected tensor proto field uint32_val")
	in = xin()
	in["sequence_id"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT64, Uint64Val: []uint64{5}}
	wantCode(t, "no shape", predict("rnn", in), codes.InvalidArgument, "Special input proto does not contain tensor shape information")
	in["sequence_id"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT64, TensorShape: shape(1, 1), Uint64Val: []uint64{5}}
	wantCode(t, "rank 2", predict("rnn", in), codes.InvalidArgument, "Invalid number of shape dimensions - Required shape for sequence_id is: (1)")
	in["sequence_id"] = &fw.TensorProto{Dtype: fw.DataType_DT_UINT64, TensorShape: shape(2), Uint64Val: []uint64{5, 6}}
	wantCode(t, "shape (2)", predict("rnn", in), codes.InvalidArgument, "Invalid input shape - Required shape for sequence_id is: (1)")
	wantCode(t, "stateful request to a stateless model", predict("rnn_explicit", seqInputs(map[string]*fw.TensorProto{
		"x":    {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: x},
		"h_in": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 4), FloatVal: x},
	}, u64(5), u32(1))), codes.InvalidArgument, "Invalid number of inputs - Expected: 2; Actual: 4")
	wantCode(t, "batch 2 on a dynamic batch", predict("vad", seqInputs(map[string]*fw.TensorProto{
		"input": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(2, 64), FloatVal: make([]float32, 128)}}, u64(9), u32(1))),
		codes.InvalidArgument, "Invalid input batch size - Expected: 1; Actual: 2; input name: input; a request of a stateful model carries one sequence")

	// max_sequence_number 2: sequence 5 and one more, then a third start fails.
	if err := predict("rnn", seqInputs(xin(), u64(6), u32(1))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "third sequence", predict("rnn", seqInputs(xin(), u64(7), u32(1))), codes.Unavailable, "Max sequence number has been reached. Could not create new sequence.")
	wantCode(t, "third sequence, assigned id", predict("rnn", seqInputs(xin(), nil, u32(1))), codes.Unavailable, "Max sequence number has been reached. Could not create new sequence.")
	if err := predict("rnn", seqInputs(xin(), u64(6), u32(2))); err != nil {
		t.Fatal(err)
	}
	if err := predict("rnn", seqInputs(xin(), u64(7), u32(1))); err != nil {
		t.Fatalf("a start after an end made room: %v", err)
	}

	if err := predict("rnn", seqInputs(xin(), u64(7), u32(2))); err != nil {
		t.Fatal(err)
	}
	// REST: the same errors with OVMS's HTTP statuses (sequence 5 is open).
	for _, c := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"inputs": {"sequence_id": [100], "x": [[1, 2, 3, 4]]}}`, 404, "Sequence with provided ID does not exist"},
		{`{"inputs": {"sequence_id": [5], "sequence_control_input": [1], "x": [[1, 2, 3, 4]]}}`, 409, "Sequence with provided ID already exists"},
		{`{"inputs": {"x": [[1, 2, 3, 4]]}}`, 400, "Sequence ID has not been provided in request inputs"},
		{`{"inputs": {"sequence_id": [5], "sequence_control_input": [7], "x": [[1, 2, 3, 4]]}}`, 400, "Unexpected value of sequence control input"},
		{`{"inputs": {"sequence_id": [101], "sequence_control_input": [1], "x": [[1, 2, 3, 4]]}}`, 200, `"sequence_id": [`},
		{`{"inputs": {"sequence_id": [102], "sequence_control_input": [1], "x": [[1, 2, 3, 4]]}}`, 503, "Max sequence number has been reached. Could not create new sequence."},
	} {
		code, body := post(t, s.url("/v1/models/rnn:predict"), c.body)
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("REST %s: %d %s, want %d %q", c.body, code, body, c.code, c.msg)
		}
	}
}

// TestStatefulKServe runs a sequence through KServe gRPC (special inputs
// in uint64_contents/uint32_contents, and Triton's sequence parameters),
// KServe REST, and the streaming ModelStreamInfer, against the explicit
// state reference.
func TestStatefulKServe(t *testing.T) {
	s := startArgs(t, "--config_path", statefulConfig(t, ""))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	xs := stepsOf(rand.New(rand.NewPCG(3, 4)), 4)
	want := reference(t, pc, xs)
	xIn := func(x []float32) *kpb.ModelInferRequest_InferInputTensor {
		return &kpb.ModelInferRequest_InferInputTensor{Name: "x", Datatype: "FP32", Shape: []int64{1, 4}, Contents: &kpb.InferTensorContents{Fp32Contents: x}}
	}
	outOf := func(r *kpb.ModelInferResponse) ([]float32, uint64) {
		var out []float32
		var id uint64
		for i, o := range r.Outputs {
			switch o.Name {
			case "out":
				out = f32s(r.RawOutputContents[i])
			case "sequence_id":
				if o.Datatype != "UINT64" || len(r.RawOutputContents[i]) != 8 {
					t.Fatalf("sequence_id output %v", o)
				}
				id = uint64(r.RawOutputContents[i][0]) | uint64(r.RawOutputContents[i][1])<<8
			}
		}
		return out, id
	}
	// Special inputs.
	for i, x := range xs {
		req := &kpb.ModelInferRequest{ModelName: "rnn", Inputs: []*kpb.ModelInferRequest_InferInputTensor{xIn(x),
			{Name: "sequence_id", Datatype: "UINT64", Shape: []int64{1}, Contents: &kpb.InferTensorContents{Uint64Contents: []uint64{300}}},
			{Name: "sequence_control_input", Datatype: "UINT32", Shape: []int64{1}, Contents: &kpb.InferTensorContents{UintContents: []uint32{map[bool]uint32{true: 1}[i == 0]}}},
		}}
		resp, err := kc.ModelInfer(ctx(t), req)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if out, id := outOf(resp); id != 300 || !close32(out, want[i]) {
			t.Fatalf("step %d: %v id %d, want %v", i, out, id, want[i])
		}
	}
	// Triton's request parameters, the id assigned at the start.
	var id uint64
	for i, x := range xs {
		params := map[string]*kpb.InferParameter{
			"sequence_start": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: i == 0}},
			"sequence_end":   {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: i == len(xs)-1}},
			"sequence_id":    {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: int64(id)}},
		}
		resp, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "rnn", Inputs: []*kpb.ModelInferRequest_InferInputTensor{xIn(x)}, Parameters: params})
		if err != nil {
			t.Fatalf("Triton step %d: %v", i, err)
		}
		out, got := outOf(resp)
		if i == 0 {
			id = got
		}
		if got == 0 || got != id || !close32(out, want[i]) {
			t.Fatalf("Triton step %d: %v id %d, want %v", i, out, got, want[i])
		}
	}
	_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "rnn", Inputs: []*kpb.ModelInferRequest_InferInputTensor{xIn(xs[0])},
		Parameters: map[string]*kpb.InferParameter{"sequence_id": {ParameterChoice: &kpb.InferParameter_Int64Param{Int64Param: int64(id)}}}})
	wantCode(t, "Triton after end", err, codes.NotFound, "Sequence with provided ID does not exist")

	// KServe REST.
	for i, x := range xs {
		body := fmt.Sprintf(`{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [%v, %v, %v, %v]},
			{"name": "sequence_id", "datatype": "UINT64", "shape": [1], "data": [400]},
			{"name": "sequence_control_input", "datatype": "UINT32", "shape": [1], "data": [%d]}]}`, x[0], x[1], x[2], x[3], map[bool]int{true: 1}[i == 0])
		code, resp := post(t, s.url("/v2/models/rnn/infer"), body)
		var r struct {
			Outputs []struct {
				Name     string
				Datatype string
				Data     []float64
			}
		}
		if code != 200 || json.Unmarshal([]byte(resp), &r) != nil || len(r.Outputs) != 2 {
			t.Fatalf("KServe REST step %d: %d %s", i, code, resp)
		}
		out := make([]float32, len(r.Outputs[0].Data))
		for j, v := range r.Outputs[0].Data {
			out[j] = float32(v)
		}
		if o := r.Outputs[1]; o.Name != "sequence_id" || o.Datatype != "UINT64" || len(o.Data) != 1 || o.Data[0] != 400 || !close32(out, want[i]) {
			t.Fatalf("KServe REST step %d: %s, want out %v", i, resp, want[i])
		}
	}
	code, resp := post(t, s.url("/v2/models/rnn/infer"), `{"parameters": {"sequence_id": 600, "sequence_start": true, "sequence_end": true},
		"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}`)
	if code != 200 || !strings.Contains(resp, "[600]") {
		t.Fatalf("KServe REST with Triton's parameters: %d %s", code, resp)
	}
	code, resp = post(t, s.url("/v2/models/rnn/infer"), `{"parameters": {"sequence_id": 600},
		"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}`)
	if code != 404 {
		t.Fatalf("KServe REST: a start+end sequence outlived its request: %d %s", code, resp)
	}
	code, resp = post(t, s.url("/v2/models/rnn/infer"), `{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]},
		{"name": "sequence_id", "datatype": "UINT64", "shape": [1], "data": [401]}]}`)
	if code != 404 || !strings.Contains(resp, "Sequence with provided ID does not exist") {
		t.Fatalf("KServe REST unknown id: %d %s", code, resp)
	}

	// ModelStreamInfer: a streaming client keeps one stream per sequence.
	stream, err := kc.ModelStreamInfer(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		params := map[string]*kpb.InferParameter{
			"sequence_id":    {ParameterChoice: &kpb.InferParameter_StringParam{StringParam: "500"}},
			"sequence_start": {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: i == 0}},
			"sequence_end":   {ParameterChoice: &kpb.InferParameter_BoolParam{BoolParam: i == len(xs)-1}},
		}
		if err := stream.Send(&kpb.ModelInferRequest{ModelName: "rnn", Inputs: []*kpb.ModelInferRequest_InferInputTensor{xIn(x)}, Parameters: params}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range xs {
		r, err := stream.Recv()
		if err != nil || r.GetErrorMessage() != "" {
			t.Fatalf("stream answer %d: %v %s", i, err, r.GetErrorMessage())
		}
		if out, id := outOf(r.GetInferResponse()); id != 500 || !close32(out, want[i]) {
			t.Fatalf("stream step %d: %v id %d, want %v", i, out, id, want[i])
		}
	}
	_ = stream.CloseSend()
}

// TestStatefulConcurrentSequences runs 16 sequences at once, each request
// of a sequence waiting for the previous one as a client would, and checks
// every output against the same sequences run one at a time with explicit
// state.
func TestStatefulConcurrentSequences(t *testing.T) {
	s := startArgs(t, "--config_path", statefulConfig(t, ""))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	const n, steps = 16, 12
	r := rand.New(rand.NewPCG(5, 6))
	inputs := make([][][]float32, n)
	want := make([][][]float32, n)
	for i := range inputs {
		inputs[i] = stepsOf(r, steps)
		want[i] = reference(t, pc, inputs[i])
	}
	got := make([][][]float32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = runSequence(t, pc, uint64(1000+i), inputs[i])
		}()
	}
	wg.Wait()
	t.Logf("%d sequences of %d steps at once: %v", n, steps, time.Since(start))
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sequence %d: %v", i, errs[i])
		}
		for j := range steps {
			if !close32(got[i][j], want[i][j]) {
				t.Fatalf("sequence %d step %d: %v, explicit state %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestStatefulIdleCleanup: with a 1 s cleaner interval a sequence left idle
// is dropped (NOT_FOUND), one that keeps getting requests survives, and a
// model with idle_sequence_cleanup false keeps its idle sequences.
func TestStatefulIdleCleanup(t *testing.T) {
	s := startEnv(t, []string{"OVMS_SEQUENCE_CLEANER_POLL_WAIT=1s"}, "--config_path", statefulConfig(t, ""))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	x := []float32{0.1, 0.2, 0.3, 0.4}
	vadStep := func(id uint64, control uint32) error {
		_, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "vad"},
			Inputs: seqInputs(map[string]*fw.TensorProto{"input": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 64), FloatVal: make([]float32, 64)}}, u64(id), u32(control))})
		return err
	}
	for _, id := range []uint64{1, 2} {
		if _, _, err := rnnStep(t, pc, id, 1, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := vadStep(3, 1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := rnnStep(t, pc, 2, 0, x); err != nil {
			t.Fatalf("active sequence dropped: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	_, _, err := rnnStep(t, pc, 1, 0, x)
	wantCode(t, "idle sequence after 3 intervals", err, codes.NotFound, "Sequence with provided ID does not exist")
	if err := vadStep(3, 0); err != nil {
		t.Fatalf("sequence of a model without idle_sequence_cleanup: %v", err)
	}
	if !strings.Contains(s.log(), "sequence cleaner dropped idle sequences") {
		t.Errorf("no cleaner log line")
	}
}

// TestStatefulPluginKilled: SIGKILL of the device plugin mid-sequence drops
// the model's sequences; once the model is back, the next request of the
// sequence gets OVMS's NOT_FOUND (never a silent reset), and new sequences
// work.
func TestStatefulPluginKilled(t *testing.T) {
	s := startArgs(t, "--config_path", statefulConfig(t, ""))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	x := []float32{0.1, 0.2, 0.3, 0.4}
	if _, _, err := rnnStep(t, pc, 9, 1, x); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rnnStep(t, pc, 9, 0, x); err != nil {
		t.Fatal(err)
	}
	plugins := children(t, s.cmd.Process.Pid)
	if len(plugins) != 1 {
		t.Fatalf("plugin processes %v", plugins)
	}
	if err := syscall.Kill(plugins[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		_, _, err = rnnStep(t, pc, 9, 0, x)
		if st := status.Convert(err); st.Code() != codes.Unavailable {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantCode(t, "sequence after the plugin was killed", err, codes.NotFound, "Sequence with provided ID does not exist")
	if _, _, err := rnnStep(t, pc, 9, 1, x); err != nil {
		t.Fatalf("restarting the sequence: %v", err)
	}
}

// TestStatefulVADStream: the VAD-shaped model, whose state [2,batch,8] has
// a symbolic dimension (sized from the first request's input; a stateful
// request carries one sequence, so batch 1), follows the audio it has
// heard window by window.
func TestStatefulVADStream(t *testing.T) {
	s := startArgs(t, "--config_path", statefulConfig(t, ""))
	pc := tfspb.NewPredictionServiceClient(s.conn)
	var probs []float32
	for i := range 5 {
		window := make([]float32, 64)
		for j := range window {
			window[j] = float32(math.Sin(float64(i*64+j) / 5))
		}
		control := map[bool]uint32{true: 1}[i == 0]
		resp, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "vad"},
			Inputs: seqInputs(map[string]*fw.TensorProto{"input": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 64), FloatVal: window}}, u64(8), u32(control))})
		if err != nil {
			t.Fatalf("window %d: %v", i, err)
		}
		out := f32s(resp.Outputs["output"].TensorContent)
		if len(out) != 1 {
			t.Fatalf("output %v", resp.Outputs["output"])
		}
		probs = append(probs, out[0])
	}
	if probs[0] == probs[1] && probs[1] == probs[2] {
		t.Fatalf("the state does not carry: %v", probs)
	}
	t.Logf("speech probabilities %v", probs)
}

// TestStatefulFlags checks the single-model flags: --stateful with
// --state_mapping serves a sequence; the stateful-only flags without
// --stateful, and auto batch with --stateful, are refused as OVMS does.
func TestStatefulFlags(t *testing.T) {
	s := startServer(t, "rnn_stateful", "--stateful", "--state_mapping", `{"h_in": "h_out"}`, "--max_sequence_number", "1")
	code, body := post(t, s.url("/v1/models/rnn_stateful:predict"), `{"inputs": {"sequence_id": [3], "sequence_control_input": [1], "x": [[1, 2, 3, 4]]}}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	code, body = post(t, s.url("/v1/models/rnn_stateful:predict"), `{"inputs": {"sequence_id": [4], "sequence_control_input": [1], "x": [[1, 2, 3, 4]]}}`)
	if code != 503 {
		t.Fatalf("max_sequence_number 1: %d %s", code, body)
	}
	for _, c := range []struct {
		args []string
		exit int
		msg  string
	}{
		{[]string{"--max_sequence_number", "5"}, 64, "Setting low_latency_transformation, max_sequence_number and idle_sequence_cleanup require setting stateful flag for the model."},
		{[]string{"--idle_sequence_cleanup=false"}, 64, "Setting low_latency_transformation, max_sequence_number and idle_sequence_cleanup require setting stateful flag for the model."},
		{[]string{"--low_latency_transformation"}, 64, "Setting low_latency_transformation, max_sequence_number and idle_sequence_cleanup require setting stateful flag for the model."},
		{[]string{"--stateful", "--batch_size", "auto"}, 1, "Dynamic shape and dynamic batch size are not supported for stateful models"},
		{[]string{"--stateful", "--state_mapping", `{"h_in": "h_out"}`, "--target_device", "MULTI:CPU,CPU"}, 1, "a stateful model keeps its sequences in one device plugin"},
		{[]string{"--stateful", "--state_mapping", `{"h_in": "nope"}`}, 1, `state_mapping: the model has no output \"nope\"`},
	} {
		args := append([]string{"--model_name", "m", "--model_path", filepath.Join(modelsDir, "rnn_stateful"), "--port", "9"}, c.args...)
		out, err := exec.Command(filepath.Join(binDir, "ovms"), args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != c.exit || !strings.Contains(string(out), c.msg) {
			t.Errorf("%v: exit %v, output %s; want exit %d and %q", c.args, err, out, c.exit, c.msg)
		}
	}
}

// TestStatefulIRSummator serves OVMS's stateful test model, an OpenVINO IR
// summator whose ReadValue/Assign pair is mapped by the server with no
// state_mapping: each sequence sums its inputs from zero, two sequences do
// not share their sums, and the state variable is not in the metadata.
func TestStatefulIRSummator(t *testing.T) {
	s := startServer(t, "summator_ir", "--stateful", "--low_latency_transformation")
	pc := tfspb.NewPredictionServiceClient(s.conn)
	step := func(id uint64, control uint32, x float32) float32 {
		t.Helper()
		resp, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "summator_ir"},
			Inputs: seqInputs(map[string]*fw.TensorProto{"input": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 1), FloatVal: []float32{x}}}, u64(id), u32(control))})
		if err != nil {
			t.Fatalf("sequence %d: %v", id, err)
		}
		return f32s(resp.Outputs["output"].TensorContent)[0]
	}
	var a, b []float32
	for i, x := range []float32{1, 2, 3, 4} {
		control := map[bool]uint32{true: 1}[i == 0]
		a = append(a, step(1, control, x))
		b = append(b, step(2, control, 10*x))
	}
	if !close32(a, []float32{1, 3, 6, 10}) || !close32(b, []float32{10, 30, 60, 100}) {
		t.Fatalf("sums %v and %v", a, b)
	}
	if got := step(1, 2, 5); got != 15 {
		t.Fatalf("end step %v", got)
	}
	if got := step(1, 1, 5); got != 5 {
		t.Fatalf("a sequence restarted with the same id starts from zero: %v", got)
	}
	code, body := get(t, s.url("/v2/models/summator_ir"))
	if code != 200 || strings.Contains(body, "state_") || !strings.Contains(body, `"input"`) {
		t.Fatalf("metadata %d %s", code, body)
	}
}

// TestStatefulReload: a configuration reload of a stateful model keeps its
// sequences when the state inputs are unchanged (the new version takes
// them over), drops them with a log line when they changed, and refuses
// to turn a stateful model stateless (OVMS: "Model type cannot be changed
// after it is loaded").
func TestStatefulReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	write := func(basePath, extra string) {
		t.Helper()
		cfg := fmt.Sprintf(`{"model_config_list": [
			{"config": {"name": "rnn", "base_path": %q%s}},
			{"config": {"name": "rnn_explicit", "base_path": %q}}]}`, filepath.Join(modelsDir, basePath), extra, filepath.Join(modelsDir, "rnn_stateful"))
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rnn_stateful", `, "stateful": true, "state_mapping": {"h_in": "h_out"}`)
	s := startArgs(t, "--config_path", path, "--file_system_poll_wait_seconds", "0")
	pc := tfspb.NewPredictionServiceClient(s.conn)
	xs := stepsOf(rand.New(rand.NewPCG(7, 8)), 4)
	want := reference(t, pc, xs)
	for i := range 2 {
		out, _, err := rnnStep(t, pc, 50, map[bool]uint32{true: 1}[i == 0], xs[i])
		if err != nil || !close32(out, want[i]) {
			t.Fatalf("step %d: %v %v", i, out, err)
		}
	}
	reload := func(wantCode int) {
		t.Helper()
		code, body := post(t, s.url("/v1/config/reload"), "")
		if code != wantCode {
			t.Fatalf("reload: %d %s, want %d", code, body, wantCode)
		}
	}
	// Same state, another limit: the sequence goes on where it was.
	write("rnn_stateful", `, "stateful": true, "state_mapping": {"h_in": "h_out"}, "max_sequence_number": 20`)
	reload(201)
	out, _, err := rnnStep(t, pc, 50, 0, xs[2])
	if err != nil || !close32(out, want[2]) {
		t.Fatalf("after a reload with the same state: %v %v, want %v", out, err, want[2])
	}
	if !strings.Contains(s.log(), "sequences taken over from the previous version") {
		t.Errorf("no takeover log line")
	}
	// Stateful -> stateless is refused; the model keeps serving sequences.
	write("rnn_stateful", "")
	code, body := post(t, s.url("/v1/config/reload"), "")
	if code == 201 || code == 200 {
		t.Fatalf("reload to stateless: %d %s", code, body)
	}
	out, _, err = rnnStep(t, pc, 50, 0, xs[3])
	if err != nil || !close32(out, want[3]) {
		t.Fatalf("after a refused type change: %v %v, want %v", out, err, want[3])
	}
	// Another state (the VAD model under the same name): sequences dropped.
	write("vad_stateful", `, "stateful": true, "state_mapping": {"state": "stateN"}`)
	reload(201)
	_, err = pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "rnn"},
		Inputs: seqInputs(map[string]*fw.TensorProto{"input": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 64), FloatVal: make([]float32, 64)}}, u64(50), u32(0))})
	wantCode(t, "after a reload with another state", err, codes.NotFound, "Sequence with provided ID does not exist")
	if !strings.Contains(s.log(), "previous version's sequences are dropped") {
		t.Errorf("no drop log line")
	}
}

// TestStatefulTerminated: a start of a sequence whose end is waiting for
// its turn gets OVMS's FAILED_PRECONDITION "Sequence last request is being
// processed and it's not available anymore". The end is a slow request (a
// 2 MiB input through a 256x256 MatMul); starts are sent until one meets
// it. A try where the end ran before any start met it runs again with
// another id.
func TestStatefulTerminated(t *testing.T) {
	s := startServer(t, "slow_stateful", "--stateful", "--state_mapping", `{"h_in": "h_out"}`)
	pc := tfspb.NewPredictionServiceClient(s.conn)
	step := func(id uint64, control uint32, n int) error {
		_, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "slow_stateful"},
			Inputs: seqInputs(map[string]*fw.TensorProto{"x": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, int64(n)),
				TensorContent: make([]byte, 4*n)}}, u64(id), u32(control))})
		return err
	}
	const slow = 2048 * 256
	for try := range 5 {
		id := uint64(900 + try)
		if err := step(id, 1, 256); err != nil {
			t.Fatal(err)
		}
		endErr := make(chan error, 1)
		go func() { endErr <- step(id, 2, slow) }() // a slow end
		// ALREADY_EXISTS until the end reaches the sequence, then
		// FAILED_PRECONDITION while it runs.
		var err error
		for range 2000 {
			if err = step(id, 1, 256); status.Code(err) != codes.AlreadyExists {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		if e := <-endErr; e != nil {
			t.Fatalf("end: %v", e)
		}
		switch st := status.Convert(err); {
		case st.Code() == codes.FailedPrecondition:
			wantCode(t, "start while the end runs", err, codes.FailedPrecondition, "Sequence last request is being processed and it's not available anymore")
			if err := step(id, 0, 256); status.Code(err) != codes.NotFound {
				t.Errorf("after the end: %v", err)
			}
			return
		case err == nil || st.Code() == codes.AlreadyExists:
			t.Logf("try %d: the end ran before a start met it (%v)", try, st.Code())
		default:
			t.Fatalf("start: %v", err)
		}
	}
	t.Fatal("no start ever met a running end")
}

// TestStatefulSequencesRunInParallel: while one sequence's slow step runs
// (known to run: a start of its id meets it), a step of another sequence
// completes, on the model's second stream. A try where the slow step ended
// first proves nothing and runs again.
func TestStatefulSequencesRunInParallel(t *testing.T) {
	s := startServer(t, "slow_stateful", "--stateful", "--state_mapping", `{"h_in": "h_out"}`, "--plugin_config", `{"NUM_STREAMS": 2}`)
	pc := tfspb.NewPredictionServiceClient(s.conn)
	step := func(id uint64, control uint32, n int) error {
		_, err := pc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "slow_stateful"},
			Inputs: seqInputs(map[string]*fw.TensorProto{"x": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, int64(n)),
				TensorContent: make([]byte, 4*n)}}, u64(id), u32(control))})
		return err
	}
	for try := range 5 {
		a, b := uint64(100+2*try), uint64(101+2*try)
		for _, id := range []uint64{a, b} {
			if err := step(id, 1, 256); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() { done <- step(a, 2, 4096*256) }() // a slow end of a
		running := false
		for range 2000 {
			if err := step(a, 1, 256); status.Code(err) == codes.FailedPrecondition {
				running = true
				break
			} else if status.Code(err) != codes.AlreadyExists {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		err := step(b, 2, 256)
		select {
		case <-done:
			t.Logf("try %d: a's slow step ended first (running seen: %v)", try, running)
			continue
		default:
		}
		if err != nil {
			t.Fatalf("b: %v", err)
		}
		if running {
			if e := <-done; e != nil {
				t.Fatal(e)
			}
			return // b ran to its end while a's step ran
		}
		<-done
	}
	t.Fatal("never saw another sequence complete while a slow step ran")
}
