package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// writeONNX writes a generated model as base/1/model.onnx.
func writeONNX(t *testing.T, base string, build func(g *om.Graph)) {
	t.Helper()
	g := om.NewGraph(filepath.Base(base))
	build(g)
	m, err := g.Model(13)
	if err != nil {
		t.Fatal(err)
	}
	if err := om.WriteFile(filepath.Join(base, "1", "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
}

// pipelineModels writes the models the pipeline tests use besides the
// generated repository's: spread, x (1,10) -> y (3,1,10) = x*[1,2,3] (a
// demultiplexer's three copies); inc3, x (3,1,10) -> y = x+1 (takes the
// gathered copies); wide, x (2,10) -> y = x+1 (batch 2).
func pipelineModels(t *testing.T, dir string) {
	writeONNX(t, filepath.Join(dir, "spread"), func(g *om.Graph) {
		x := g.Input("x", om.Float32, 1, 10)
		k := g.Constant(om.Float32Tensor("k", []int64{3, 1, 1}, []float32{1, 2, 3}))
		g.Output(g.NamedNode("Mul", "y", []om.Value{x, k}), "y", om.Float32, 3, 1, 10)
	})
	for name, dims := range map[string][]int64{"inc3": {3, 1, 10}, "wide": {2, 10}} {
		writeONNX(t, filepath.Join(dir, name), func(g *om.Graph) {
			x := g.Input("x", om.Float32, dims...)
			ones := make([]int64, len(dims))
			for i := range ones {
				ones[i] = 1
			}
			one := g.Constant(om.Float32Tensor("one", ones, []float32{1}))
			g.Output(g.NamedNode("Add", "y", []om.Value{x, one}), "y", om.Float32, dims...)
		})
	}
}

// node is a pipeline node's JSON.
func node(name, model string, inputs, outputs string, extra ...string) string {
	s := fmt.Sprintf(`{"name": %q, "type": "DL model", "model_name": %q, "inputs": [%s], "outputs": [%s]`, name, model, inputs, outputs)
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

func src(input, node, item string) string {
	return fmt.Sprintf(`{%q: {"node_name": %q, "data_item": %q}}`, input, node, item)
}

func alias(item, as string) string { return fmt.Sprintf(`{"data_item": %q, "alias": %q}`, item, as) }

func pipe(name, inputs string, nodes []string, outputs string, extra ...string) string {
	s := fmt.Sprintf(`{"name": %q, "inputs": [%s], "nodes": [%s], "outputs": [%s]`, name, inputs, strings.Join(nodes, ",\n"), outputs)
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

// The served pipelines: demux is the 3-node pipeline (spread demultiplies
// into 3 shards, dummy runs per shard, inc3 gathers them; dummy's shards
// are also a response output, gathered there); dyn is the same with a
// dynamic count; branches runs two dummy nodes side by side into
// add_two_inputs.
var (
	demuxNodes = []string{
		node("s", "spread", src("x", "request", "in"), alias("y", "copies"), `"demultiply_count": 3`),
		node("d", "dummy", src("b", "s", "copies"), alias("a", "plus1")),
		node("g", "inc3", src("x", "d", "plus1"), alias("y", "out"), `"gather_from_node": "s"`),
	}
	demuxOutputs = src("result", "g", "out") + "," + src("shards", "d", "plus1")
	demuxPipe    = pipe("demux", `"in"`, demuxNodes, demuxOutputs)
	dynPipe      = pipe("dyn", `"in"`, []string{
		node("s", "spread", src("x", "request", "in"), alias("y", "copies"), `"demultiply_count": -1`),
		node("d", "dummy", src("b", "s", "copies"), alias("a", "plus1")),
	}, src("shards", "d", "plus1"))
	branchesPipe = pipe("branches", `"in"`, []string{
		node("left", "dummy", src("b", "request", "in"), alias("a", "l")),
		node("right", "dummy", src("b", "request", "in"), alias("a", "r")),
		node("join", "add", src("input1", "left", "l")+","+src("input2", "right", "r"), alias("sum", "s")),
	}, src("sum", "join", "s"))
)

// pipelineModelList is the model_config_list the pipeline tests serve.
func pipelineModelList(dir string) string {
	return fmt.Sprintf(`[
		{"config": {"name": "dummy", "base_path": %q}},
		{"config": {"name": "add", "base_path": %q}},
		{"config": {"name": "dummy_fp64", "base_path": %q}},
		{"config": {"name": "scalar", "base_path": %q}},
		{"config": {"name": "auto", "base_path": %q, "shape": "auto"}},
		{"config": {"name": "rnn", "base_path": %q, "stateful": true, "state_mapping": {"h_in": "h_out"}}},
		{"config": {"name": "spread", "base_path": "spread"}},
		{"config": {"name": "inc3", "base_path": "inc3"}},
		{"config": {"name": "wide", "base_path": "wide"}}]`,
		filepath.Join(modelsDir, "dummy"), filepath.Join(modelsDir, "add_two_inputs"), filepath.Join(modelsDir, "dummy_fp64"),
		filepath.Join(modelsDir, "scalar"), filepath.Join(modelsDir, "dummy"), filepath.Join(modelsDir, "rnn_stateful"))
}

func pipelineInput() []float32 { return seq(10, 0) }

// wantDemux is the demux pipeline's answer to x: result k*x+2 and shards
// k*x+1 for k = 1, 2, 3, both (3,1,10).
func wantDemux(x []float32) (result, shards []float32) {
	for k := float32(1); k <= 3; k++ {
		for _, v := range x {
			result = append(result, k*v+2)
			shards = append(shards, k*v+1)
		}
	}
	return result, shards
}

// TestPipelineServing serves a 3-node pipeline with demultiplexing and a
// gather, a dynamic demultiplexer and two parallel branches through all
// four APIs, with metadata and status derived from the graph.
func TestPipelineServing(t *testing.T) {
	dir := t.TempDir()
	pipelineModels(t, dir)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": %s, "pipeline_config_list": [%s, %s, %s]}`,
		pipelineModelList(dir), demuxPipe, dynPipe, branchesPipe))
	s := startArgs(t, "--config_path", cfg, "--metrics_enable")
	x := pipelineInput()
	wantResult, wantShards := wantDemux(x)

	// KServe gRPC.
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	kr, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "demux",
		Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(x...)}})
	if err != nil {
		t.Fatalf("kserve grpc: %v\n%s", err, s.log())
	}
	if kr.ModelName != "demux" || kr.ModelVersion != "1" || len(kr.Outputs) != 2 || kr.Outputs[0].Name != "result" || kr.Outputs[1].Name != "shards" ||
		!slices.Equal(kr.Outputs[0].Shape, []int64{3, 1, 10}) || !slices.Equal(kr.Outputs[1].Shape, []int64{3, 1, 10}) ||
		!equal(f32s(kr.RawOutputContents[0]), wantResult) || !equal(f32s(kr.RawOutputContents[1]), wantShards) {
		t.Fatalf("kserve grpc: %v", kr)
	}
	// TFS gRPC (a version in the request is ignored, as OVMS does for DAGs).
	tc := tfspb.NewPredictionServiceClient(s.conn)
	tr, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "demux", VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(7)}},
		Inputs: map[string]*fw.TensorProto{"in": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 10), FloatVal: x}}})
	if err != nil || !equal(f32s(tr.Outputs["result"].TensorContent), wantResult) || !equal(f32s(tr.Outputs["shards"].TensorContent), wantShards) {
		t.Fatalf("tfs grpc: %v %v", tr, err)
	}
	// KServe REST.
	r := kserveREST(t, s, "demux", `{"inputs":[{"name":"in","shape":[1,10],"datatype":"FP32","data":[0,1,2,3,4,5,6,7,8,9]}]}`)
	var got []float32
	if len(r.Outputs) != 2 || json.Unmarshal(r.Outputs[0].Data, &got) != nil || !equal(got, wantResult) || !slices.Equal(r.Outputs[0].Shape, []int64{3, 1, 10}) {
		t.Fatalf("kserve rest: %+v", r)
	}
	// TFS REST, column format (named).
	code, body := post(t, s.url("/v1/models/demux:predict"), `{"inputs": {"in": [[0,1,2,3,4,5,6,7,8,9]]}}`)
	var pr struct{ Outputs map[string][][][]float32 }
	if code != 200 || json.Unmarshal([]byte(body), &pr) != nil || len(pr.Outputs["result"]) != 3 || !equal(pr.Outputs["result"][2][0], wantResult[20:]) {
		t.Fatalf("tfs rest: %d %s", code, body)
	}
	// OVMS refuses the no-named forms for DAGs.
	if code, body := post(t, s.url("/v1/models/demux:predict"), `{"instances": [[0,1,2,3,4,5,6,7,8,9]]}`); code == 200 {
		t.Errorf("no-named request to a DAG: %d %s", code, body)
	}

	// The dynamic demultiplexer and the parallel branches.
	kr, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dyn",
		Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(x...)}})
	if err != nil || !slices.Equal(kr.Outputs[0].Shape, []int64{3, 1, 10}) || !equal(f32s(kr.RawOutputContents[0]), wantShards) {
		t.Fatalf("dyn: %v %v", kr, err)
	}
	kr, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "branches",
		Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(x...)}})
	want := make([]float32, 10)
	for i, v := range x {
		want[i] = 2*v + 2
	}
	if err != nil || !equal(f32s(kr.RawOutputContents[0]), want) {
		t.Fatalf("branches: %v %v", kr, err)
	}

	// Metadata derived from the graph: dynamic dims are -1.
	code, body = get(t, s.url("/v2/models/dyn"))
	if code != 200 || !strings.Contains(body, `"shape":[1,10]`) || !strings.Contains(body, `"shape":[-1,1,10]`) || !strings.Contains(body, `"versions":["1"]`) {
		t.Errorf("kserve rest metadata: %d %s", code, body)
	}
	km, err := kc.ModelMetadata(ctx(t), &kpb.ModelMetadataRequest{Name: "demux"})
	if err != nil || len(km.Inputs) != 1 || km.Inputs[0].Name != "in" || len(km.Outputs) != 2 || !slices.Equal(km.Outputs[0].Shape, []int64{3, 1, 10}) {
		t.Errorf("kserve grpc metadata: %v %v", km, err)
	}
	code, body = get(t, s.url("/v1/models/demux/metadata"))
	if code != 200 || !strings.Contains(body, `"result"`) || !strings.Contains(body, `"version": "1"`) {
		t.Errorf("tfs rest metadata: %d %s", code, body)
	}
	mc := tfspb.NewModelServiceClient(s.conn)
	st, err := mc.GetModelStatus(ctx(t), &tfspb.GetModelStatusRequest{ModelSpec: &tfspb.ModelSpec{Name: "branches"}})
	if err != nil || len(st.ModelVersionStatus) != 1 || st.ModelVersionStatus[0].Version != 1 || st.ModelVersionStatus[0].State != tfspb.ModelVersionStatus_AVAILABLE {
		t.Errorf("tfs status: %v %v", st, err)
	}
	_, err = mc.GetModelStatus(ctx(t), &tfspb.GetModelStatusRequest{ModelSpec: &tfspb.ModelSpec{Name: "branches", VersionChoice: &tfspb.ModelSpec_Version{Version: wrapperspb.Int64(2)}}})
	if status.Convert(err).Message() != "Model with requested version is not found" {
		t.Errorf("status of version 2: %v", err)
	}
	ready, err := kc.ModelReady(ctx(t), &kpb.ModelReadyRequest{Name: "demux"})
	if err != nil || !ready.Ready {
		t.Errorf("kserve ready: %v %v", ready, err)
	}
	if code, body := get(t, s.url("/v2/models/demux/ready")); code != 200 {
		t.Errorf("kserve rest ready: %d %s", code, body)
	}
	// Unknown names keep OVMS's text.
	_, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "nope", Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(x...)}})
	if status.Code(err) != codes.NotFound || status.Convert(err).Message() != "Model with requested name is not found" {
		t.Errorf("unknown name: %v", err)
	}
	// Metrics per pipeline, as per model version.
	code, body = get(t, s.url("/metrics"))
	if code != 200 || !regexp.MustCompile(`ovms_requests_success\{[^}]*method="ModelInfer",name="demux",version="1"\} 1`).MatchString(body) {
		t.Errorf("metrics: %d %s", code, grepLines(body, "demux"))
	}
	// A request error inside the pipeline reaches the client.
	_, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "demux", Inputs: []*inT{{Name: "other", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(x...)}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("wrong input name: %v", err)
	}
}

// brokenPipelines are definitions that fail validation, each with the
// OVMS status text it must be refused with.
func brokenPipelines() (defs []string, want map[string]string) {
	in := src("b", "request", "in")
	ok := node("a", "dummy", in, alias("a", "a"))
	out := src("out", "a", "a")
	want = map[string]string{}
	add := func(name, text string, nodes []string, outputs string, extra ...string) {
		defs = append(defs, pipe(name, `"in"`, nodes, outputs, extra...))
		want[name] = text
	}
	add("cycle", "Pipeline definition contains a cycle", []string{
		node("a", "dummy", src("b", "c", "c"), alias("a", "a")), node("c", "dummy", src("b", "a", "a"), alias("a", "c"))}, out)
	add("two_entries", "Pipeline definition has multiple request nodes", []string{ok, node("request", "dummy", in, alias("a", "x"))}, out)
	add("two_exits", "Pipeline definition has multiple response nodes", []string{ok, node("response", "dummy", in, alias("a", "x"))}, out)
	defs = append(defs, pipe("no_entry", "", []string{ok}, out))
	want["no_entry"] = "Pipeline definition is missing request or response node"
	add("unconnected", "Pipeline definition has unconnected nodes", []string{ok, node("c", "dummy", in, alias("a", "c"))}, out)
	add("missing_node", "Pipeline definition has reference to missing node", []string{node("a", "dummy", src("b", "zz", "x"), alias("a", "a"))}, out)
	add("missing_model", "Pipeline definition has reference to missing model", []string{node("a", "nope", in, alias("a", "a"))}, out)
	add("missing_source", "Pipeline definition has reference to missing data source", []string{ok, node("c", "dummy", src("b", "a", "zz"), alias("a", "c"))}, src("out", "c", "c"))
	add("missing_output", "Pipeline definition has reference to missing model output", []string{node("a", "dummy", in, alias("zz", "a"))}, out)
	add("missing_input", "Pipeline definition has connection to non existing model input", []string{node("a", "dummy", in+","+src("zz", "request", "in"), alias("a", "a"))}, out)
	add("not_all_inputs", "Pipeline definition does not have connections for all inputs of underlying models", []string{node("a", "add", src("input1", "request", "in"), alias("sum", "a"))}, out)
	add("two_sources", "Pipeline definition has multiple connections to the same input of underlying model", []string{ok, node("c", "dummy", in+","+src("b", "a", "a"), alias("a", "c"))}, src("out", "c", "c"))
	add("exit_dependency", "Pipeline definition has response node used as dependency node", []string{ok, node("c", "dummy", src("b", "response", "out"), alias("a", "c"))}, out+","+src("o2", "c", "c"))
	add("duplicate_nodes", "Pipeline definition has multiple nodes with the same name", []string{ok, ok}, out)
	spreadIn := src("x", "request", "in")
	add("demux_batch", "Batch size >= 2 is not allowed when demultiplexer is used", []string{
		node("s", "spread", spreadIn, alias("y", "c"), `"demultiply_count": 3`), node("w", "wide", src("x", "s", "c"), alias("y", "w"))}, src("out", "w", "w"))
	add("demux_count", "Demultiplication count does not match tensor first dimension", []string{
		node("s", "spread", spreadIn, alias("y", "c"), `"demultiply_count": 4`), node("d", "dummy", src("b", "s", "c"), alias("a", "d"))}, src("out", "d", "d"))
	add("gather_not_demux", "Gather node refers to node that isn't demultiplexer", []string{ok, node("c", "dummy", src("b", "a", "a"), alias("a", "c"), `"gather_from_node": "a"`)}, src("out", "c", "c"))
	add("gather_entry", "Gathering from entry node is not allowed", []string{node("a", "dummy", in, alias("a", "a"), `"gather_from_node": "request"`)}, out)
	add("gather_missing", "Gather node refers to not existing node", []string{node("a", "dummy", in, alias("a", "a"), `"gather_from_node": "zz"`)}, out)
	add("wrong_nesting", "Demultiplexer and gather nodes are not in LIFO order", []string{
		node("s1", "spread", spreadIn, alias("y", "c1"), `"demultiply_count": 3`),
		node("s2", "spread", src("x", "s1", "c1"), alias("y", "c2"), `"demultiply_count": 3`),
		node("g", "dummy", src("b", "s2", "c2"), alias("a", "g"), `"gather_from_node": "s1"`)}, src("out", "g", "g"))
	add("shape_mismatch", "Invalid input shape", []string{ok, node("c", "inc3", src("x", "a", "a"), alias("y", "c"))}, src("out", "c", "c"))
	add("precision_mismatch", "Invalid input precision", []string{ok, node("c", "dummy_fp64", src("b", "a", "a"), alias("a", "c"))}, src("out", "c", "c"))
	add("auto_model", "Requested dynamic parameters but model is used in pipeline", []string{node("a", "auto", in, alias("a", "a"))}, out)
	add("stateful_model", "Stateful model cannot be subscribed to pipeline", []string{node("a", "rnn", in, alias("a", "a"))}, out)
	add("not_enough_dims", "Pipeline has not enough shape dimensions to demultiply", []string{
		node("a", "scalar", src("model_scalar_input", "request", "in"), alias("model_scalar_output", "a"), `"demultiply_count": 3`)}, out)
	add("ambiguous_input", "Multiple nodes connected to the same pipeline input require different tensor metadata", []string{
		ok, node("c", "dummy_fp64", in, alias("a", "c"))}, out+","+src("o2", "c", "c"))
	add("two_dynamic_demux", "Functionality not implemented", []string{
		node("s1", "spread", spreadIn, alias("y", "c1"), `"demultiply_count": -1`),
		node("s2", "spread", src("x", "s1", "c1"), alias("y", "c2"), `"demultiply_count": 3`),
		node("g", "dummy", src("b", "s2", "c2"), alias("a", "g"))}, src("out", "g", "g"))
	defs = append(defs, pipe("custom_missing", `"in"`, []string{`{"name": "c", "type": "custom", "library_name": "nolib", "inputs": [` + in + `], "outputs": [` + alias("x", "x") + `]}`}, src("out", "c", "x")))
	want["custom_missing"] = "Pipeline refers to incorrect library"
	return defs, want
}

// TestPipelineValidationErrors loads every kind of invalid definition
// from a config file: each is LOADING with FAILED_PRECONDITION, its
// requests get "Pipeline is not loaded yet", and the log names OVMS's
// status text; the valid pipeline beside them serves.
func TestPipelineValidationErrors(t *testing.T) {
	dir := t.TempDir()
	pipelineModels(t, dir)
	defs, want := brokenPipelines()
	defs = append(defs, demuxPipe,
		pipe("demux", `"in"`, []string{node("a", "dummy", src("b", "request", "in"), alias("a", "a"))}, src("out", "a", "a")), // duplicate: first wins
		pipe("dummy", `"in"`, []string{node("a", "dummy", src("b", "request", "in"), alias("a", "a"))}, src("out", "a", "a")), // a model's name
	)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": %s, "pipeline_config_list": [%s]}`, pipelineModelList(dir), strings.Join(defs, ",\n")))
	s := startArgs(t, "--config_path", cfg)
	states := versionStates(t, s)
	code, all := get(t, s.url("/v1/config"))
	log := s.log()
	for name, text := range want {
		if states[name] != "1:LOADING" {
			t.Errorf("%s: state %q", name, states[name])
		}
		if !strings.Contains(log, text) || !strings.Contains(log, "pipeline: "+name) {
			t.Errorf("%s: the log has no %q\n%s", name, text, grepLines(log, "pipeline: "+name))
		}
	}
	if code != 200 || !strings.Contains(all, `"error_code": "FAILED_PRECONDITION"`) {
		t.Errorf("/v1/config: %d %s", code, all)
	}
	if states["demux"] != "1:AVAILABLE" || states["dummy"] != "1:AVAILABLE" {
		t.Errorf("valid pipeline and model: %q %q", states["demux"], states["dummy"])
	}
	for _, text := range []string{"Duplicated pipeline names: demux defined in config file", "Pipeline name: dummy is already occupied by model"} {
		if !strings.Contains(log, text) {
			t.Errorf("the log has no %q", text)
		}
	}
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "cycle", Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
	if status.Convert(err).Message() != "Pipeline is not loaded yet" {
		t.Errorf("request to an invalid pipeline: %v", err)
	}
	if code, body := post(t, s.url("/v2/models/cycle/infer"), `{"inputs":[{"name":"in","shape":[1,10],"datatype":"FP32","data":[0,1,2,3,4,5,6,7,8,9]}]}`); code != 404 || body != `{"error":"Pipeline is not loaded yet"}` {
		t.Errorf("rest request to an invalid pipeline: %d %s", code, body)
	}
	// The duplicate's first definition serves.
	if _, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "demux", Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}}); err != nil {
		t.Errorf("demux: %v", err)
	}
}

// TestPipelineReloadRevalidation changes the configuration under a
// running server: a pipeline whose model goes away fails its
// revalidation (LOADING, "Pipeline is not loaded yet"), comes back with
// the model, and a pipeline removed from the file retires (END).
func TestPipelineReloadRevalidation(t *testing.T) {
	dir := t.TempDir()
	pipelineModels(t, dir)
	cfg := filepath.Join(dir, "config.json")
	full := fmt.Sprintf(`{"model_config_list": %s, "pipeline_config_list": [%s, %s]}`, pipelineModelList(dir), demuxPipe, branchesPipe)
	writeConfig(t, cfg, full)
	s := startArgs(t, "--config_path", cfg)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	infer := func(name string) error {
		_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: name, Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
		return err
	}
	if err := infer("demux"); err != nil {
		t.Fatal(err)
	}
	// spread leaves the configuration.
	noSpread := strings.Replace(full, `{"config": {"name": "spread", "base_path": "spread"}},`, "", 1)
	writeConfig(t, cfg, noSpread)
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if st := versionStates(t, s); st["demux"] != "1:LOADING" || st["branches"] != "1:AVAILABLE" || st["spread"] != "1:END" {
		t.Fatalf("after removing spread: %v", st)
	}
	if err := infer("demux"); status.Convert(err).Message() != "Pipeline is not loaded yet" {
		t.Errorf("demux without spread: %v", err)
	}
	if !strings.Contains(s.log(), "Pipeline definition has reference to missing model") {
		t.Errorf("the log has no revalidation failure")
	}
	if err := infer("branches"); err != nil {
		t.Errorf("branches: %v", err)
	}
	// spread comes back: demux is valid again.
	writeConfig(t, cfg, full)
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if st := versionStates(t, s); st["demux"] != "1:AVAILABLE" {
		t.Fatalf("after restoring spread: %v", st)
	}
	if err := infer("demux"); err != nil {
		t.Errorf("demux restored: %v", err)
	}
	// branches leaves the configuration: END, and its requests are refused.
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": %s, "pipeline_config_list": [%s]}`, pipelineModelList(dir), demuxPipe))
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if st := versionStates(t, s); st["branches"] != "1:END" {
		t.Fatalf("after removing branches: %v", st)
	}
	if err := infer("branches"); status.Convert(err).Message() != "Pipeline is retired" {
		t.Errorf("retired pipeline: %v", err)
	}
	// A reload with nothing changed is not a change.
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 200 {
		t.Errorf("reload without changes: %d %s", code, body)
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPipelineDocs serves docs/pipelines.md's config.json (with the
// generated models beside it, as the page says) and runs its examples.
func TestPipelineDocs(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(root, "docs", "pipelines.md")
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var config string
	type example struct{ expect, script string }
	var examples []example
	var cur *example
	kind, inBlock := "", false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case line == "<!-- pipelines-doc config -->":
			kind = "config"
		case strings.HasPrefix(line, "<!-- pipelines-doc example expect="):
			kind = "example"
			cur = &example{expect: strings.TrimSuffix(strings.TrimPrefix(line, "<!-- pipelines-doc example expect="), " -->")}
		case kind != "" && !inBlock && strings.HasPrefix(line, "```"):
			inBlock = true
		case inBlock && line == "```":
			if kind == "example" {
				examples = append(examples, *cur)
			}
			kind, inBlock = "", false
		case inBlock && kind == "config":
			config += line + "\n"
		case inBlock:
			cur.script += line + "\n"
		}
	}
	if config == "" || len(examples) < 4 {
		t.Fatalf("docs/pipelines.md: config %d bytes, %d examples", len(config), len(examples))
	}
	dir := t.TempDir()
	if err := os.Symlink(modelsDir, filepath.Join(dir, "models")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, config)
	s := startArgs(t, "--config_path", cfg)
	if !strings.Contains(s.log(), "pipeline definition validated; available") {
		t.Errorf("the log lacks the line the page promises")
	}
	for _, ex := range examples {
		script := strings.ReplaceAll(ex.script, "localhost:8000", s.url("")[len("http://"):])
		out, err := exec.Command("bash", "-eo", "pipefail", "-c", script).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ex.expect) {
			t.Errorf("%s: %v: output lacks %q:\n%s", ex.script, err, ex.expect, out)
		}
	}
}

// TestPipelinePluginCrash kills the CPU plugin under a served pipeline,
// with the watcher polling every second: its requests run again once the
// restarted plugin has the models, and the pipeline stays AVAILABLE
// (core/pipeline's TestRegistryKeepsPipelinesOfLoadingModels covers a
// poll that lands while the models load again).
func TestPipelinePluginCrash(t *testing.T) {
	dir := t.TempDir()
	pipelineModels(t, dir)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": %s, "pipeline_config_list": [%s, %s]}`, pipelineModelList(dir), demuxPipe, branchesPipe))
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	x := pipelineInput()
	wantResult, _ := wantDemux(x)
	infer := func() error {
		kr, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "demux", Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(x...)}})
		if err == nil && !equal(f32s(kr.RawOutputContents[0]), wantResult) {
			t.Errorf("wrong result after the crash: %v", f32s(kr.RawOutputContents[0]))
		}
		return err
	}
	if err := infer(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pluginPid(t, s), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a pipeline request after the plugin restart", func() (bool, string) {
		err := infer()
		return err == nil, fmt.Sprint(err)
	})
	time.Sleep(1500 * time.Millisecond) // a poll or more after the restart
	if st := versionStates(t, s); st["demux"] != "1:AVAILABLE" || st["branches"] != "1:AVAILABLE" {
		t.Errorf("after the restart: %v", st)
	}
	if strings.Contains(s.log(), "pipeline definition validation failed") {
		t.Errorf("a plugin restart failed a pipeline's validation:\n%s", grepLines(s.log(), "validation failed"))
	}
	if err := infer(); err != nil {
		t.Error(err)
	}
}

// TestPipelineTensorsStayInPluginArena checks, from the CPU plugin's own
// request log, that the join node of the branches pipeline reads the two
// dummy nodes' outputs where the plugin wrote them (its half of the
// arena), while the request's input was written into the host's half.
func TestPipelineTensorsStayInPluginArena(t *testing.T) {
	dir := t.TempDir()
	pipelineModels(t, dir)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, fmt.Sprintf(`{"model_config_list": %s, "pipeline_config_list": [%s]}`, pipelineModelList(dir), branchesPipe))
	const arenaMB = 64
	s := startArgs(t, "--config_path", cfg, "--plugin_arena_mb", fmt.Sprint(arenaMB), "--log_level", "DEBUG")
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	if _, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "branches", Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}}); err != nil {
		t.Fatal(err)
	}
	split := uint64(arenaMB<<20) / 2 // the host's half, then the plugin's
	// The plugin's log reaches ovms's asynchronously: wait for the lines of
	// every request (the two dummy nodes log one each, with one arena input;
	// the join node one, with two), not just the first.
	offsets := func(model string, want int) []uint64 {
		var out []uint64
		re := regexp.MustCompile(`:arena\[(\d+),\+\d+\]`)
		eventually(t, "the plugin's log of "+model, func() (bool, string) {
			out = out[:0]
			for _, l := range strings.Split(grepLines(s.log(), "model="+model+" "), "\n") {
				if !strings.Contains(l, "infer request") {
					continue
				}
				for _, m := range re.FindAllStringSubmatch(l, -1) {
					var off uint64
					fmt.Sscan(m[1], &off)
					out = append(out, off)
				}
			}
			return len(out) >= want, s.log()
		})
		return out
	}
	dummy, add := offsets("dummy", 2), offsets("add", 2)
	if len(dummy) != 2 || len(add) != 2 {
		t.Fatalf("inputs logged: dummy %v, add %v", dummy, add)
	}
	for _, off := range dummy {
		if off >= split {
			t.Errorf("the request's input at %d is not in the host's half (< %d)", off, split)
		}
	}
	for _, off := range add {
		if off < split {
			t.Errorf("the join node's input at %d was copied into the host's half (< %d), not read in place", off, split)
		}
	}
}
