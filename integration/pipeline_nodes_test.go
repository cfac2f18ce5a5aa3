package integration

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

// docConfig is the JSON block of doc that follows the line marker.
func docConfig(t *testing.T, doc, marker string) string {
	t.Helper()
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	state := 0 // 0 before the marker, 1 before the block, 2 inside it
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case state == 0 && line == marker:
			state = 1
		case state == 1 && strings.HasPrefix(line, "```"):
			state = 2
		case state == 2 && line == "```":
			return strings.Join(out, "\n") + "\n"
		case state == 2:
			out = append(out, line)
		}
	}
	t.Fatalf("%s has no block after %q", doc, marker)
	return ""
}

// docScripts are the shell blocks of doc that follow a line
// "<prefix>EXPECT -->", keyed by EXPECT (what their output must contain).
func docScripts(t *testing.T, doc, prefix string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	expect, inBlock, script := "", false, ""
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case !inBlock && strings.HasPrefix(line, prefix):
			expect = strings.TrimSuffix(strings.TrimPrefix(line, prefix), " -->")
		case expect != "" && !inBlock && strings.HasPrefix(line, "```"):
			inBlock = true
		case inBlock && line == "```":
			out[expect] = script
			expect, inBlock, script = "", false, ""
		case inBlock:
			script += line + "\n"
		}
	}
	return out
}

// detectionDocConfig is the config.json of docs/custom-nodes.md ("In a
// pipeline"), which the tests serve as it is.
func detectionDocConfig(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return docConfig(t, filepath.Join(root, "docs", "custom-nodes.md"), "<!-- custom-nodes-doc config -->")
}

// detectionDir is a folder laid out as docs/custom-nodes.md says
// (models/ and bin/ beside config.json) holding config; it returns the
// config's path.
func detectionDir(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	for link, target := range map[string]string{"models": modelsDir, "bin": binDir} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, config)
	return cfg
}

// withExtras adds models and pipelines to a config.json.
func withExtras(t *testing.T, config string, models, pipelines []string) string {
	t.Helper()
	var f map[string]json.RawMessage
	if err := json.Unmarshal([]byte(config), &f); err != nil {
		t.Fatal(err)
	}
	for key, add := range map[string][]string{"model_config_list": models, "pipeline_config_list": pipelines} {
		var list []json.RawMessage
		if f[key] != nil {
			if err := json.Unmarshal(f[key], &list); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range add {
			list = append(list, json.RawMessage(a))
		}
		b, err := json.Marshal(list)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		f[key] = b
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// detectionImage is the example request's image [1,3,64,64]: black but
// for the top-left quarter, 1 in channel 1, and the bottom-right quarter,
// (0.2, 0.2, 0.5).
func detectionImage() []float32 {
	img := make([]float32, 3*64*64)
	for c := 0; c < 3; c++ {
		for y := 0; y < 64; y++ {
			for x := 0; x < 64; x++ {
				v := float32(0)
				switch {
				case y < 32 && x < 32 && c == 1:
					v = 1
				case y >= 32 && x >= 32:
					v = []float32{0.2, 0.2, 0.5}[c]
				}
				img[(c*64+y)*64+x] = v
			}
		}
	}
	return img
}

// detectionWant is what the example pipeline must answer for
// detectionImage: the detection model's two boxes above 0.5 are cropped
// exactly (32x32 from 64x64 samples pixel centres), classification gives
// the softmax of the channel means, argmax the best class with -1 under
// 0.5.
func detectionWant() (labels []int32, scores, boxes []float32) {
	softmax := func(v ...float64) []float64 {
		var sum float64
		for _, x := range v {
			sum += math.Exp(x)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = math.Exp(x) / sum
		}
		return out
	}
	p1, p2 := softmax(0, 1, 0), softmax(0.2, 0.2, 0.5)
	return []int32{1, -1}, []float32{float32(p1[1]), float32(p2[2])}, []float32{0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1}
}

func i32s(b []byte) []int32 {
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// near compares scores to 1e-5 (ONNX Runtime's mean and softmax in FP32).
func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

// detectKServe sends detectionImage to the detection pipeline over KServe
// gRPC and checks the answer value by value.
func detectKServe(t *testing.T, kc kpb.GRPCInferenceServiceClient, img []byte) error {
	r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "detect_classify",
		Inputs: []*inT{{Name: "image", Datatype: "FP32", Shape: []int64{1, 3, 64, 64}}}, RawInputContents: [][]byte{img}})
	if err != nil {
		return err
	}
	labels, scores, boxes := detectionWant()
	got := map[string]int{}
	for i, o := range r.Outputs {
		got[o.Name] = i
	}
	li, si, bi := got["labels"], got["scores"], got["boxes"]
	if len(r.Outputs) != 3 || len(r.RawOutputContents) != 3 ||
		r.Outputs[li].Datatype != "INT32" || !slices.Equal(r.Outputs[li].Shape, []int64{2, 1}) || !slices.Equal(i32s(r.RawOutputContents[li]), labels) ||
		r.Outputs[si].Datatype != "FP32" || !slices.Equal(r.Outputs[si].Shape, []int64{2, 1}) || !near(f32s(r.RawOutputContents[si]), scores) ||
		!slices.Equal(r.Outputs[bi].Shape, []int64{2, 1, 4}) || !equal(f32s(r.RawOutputContents[bi]), boxes) {
		t.Errorf("kserve grpc: %v; labels %v scores %v boxes %v", r.Outputs, i32s(r.RawOutputContents[li]), f32s(r.RawOutputContents[si]), f32s(r.RawOutputContents[bi]))
	}
	return nil
}

// TestPipelineDetectionExample serves docs/custom-nodes.md's detection
// pipeline (detection model -> ovms-node-cropboxes demultiplying ->
// classification model -> ovms-node-argmax) as the page's config.json
// gives it, and checks every value of its answer over KServe gRPC and
// REST and TF Serving gRPC and REST, and its metadata.
func TestPipelineDetectionExample(t *testing.T) {
	cfg := detectionDir(t, detectionDocConfig(t))
	s := startArgs(t, "--config_path", cfg)
	if st := versionStates(t, s); st["detect_classify"] != "1:AVAILABLE" {
		t.Fatalf("states %v\n%s", st, grepLines(s.log(), "pipeline"))
	}
	img := detectionImage()
	labels, scores, boxes := detectionWant()

	// KServe gRPC.
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	if err := detectKServe(t, kc, f32bytes(img...)); err != nil {
		t.Fatalf("kserve grpc: %v\n%s", err, s.log())
	}

	// KServe REST.
	data, _ := json.Marshal(img)
	r := kserveREST(t, s, "detect_classify", `{"inputs":[{"name":"image","shape":[1,3,64,64],"datatype":"FP32","data":`+string(data)+`}]}`)
	byName := map[string]int{}
	for i, o := range r.Outputs {
		byName[o.Name] = i
	}
	var gl []int32
	var gs, gb []float32
	lo, so, bo := r.Outputs[byName["labels"]], r.Outputs[byName["scores"]], r.Outputs[byName["boxes"]]
	if len(r.Outputs) != 3 || json.Unmarshal(lo.Data, &gl) != nil || json.Unmarshal(so.Data, &gs) != nil || json.Unmarshal(bo.Data, &gb) != nil ||
		lo.Datatype != "INT32" || !slices.Equal(lo.Shape, []int64{2, 1}) || !slices.Equal(gl, labels) ||
		!near(gs, scores) || !slices.Equal(bo.Shape, []int64{2, 1, 4}) || !equal(gb, boxes) {
		t.Errorf("kserve rest: %+v", r)
	}

	// TF Serving gRPC.
	tc := tfspb.NewPredictionServiceClient(s.conn)
	tr, err := tc.Predict(ctx(t), &tfspb.PredictRequest{ModelSpec: &tfspb.ModelSpec{Name: "detect_classify"},
		Inputs: map[string]*fw.TensorProto{"image": {Dtype: fw.DataType_DT_FLOAT, TensorShape: shape(1, 3, 64, 64), TensorContent: f32bytes(img...)}}})
	if err != nil {
		t.Fatalf("tfs grpc: %v", err)
	}
	tl, ts, tb := tr.Outputs["labels"], tr.Outputs["scores"], tr.Outputs["boxes"]
	if tl == nil || ts == nil || tb == nil || tl.Dtype != fw.DataType_DT_INT32 || !slices.Equal(i32s(tl.TensorContent), labels) ||
		!near(f32s(ts.TensorContent), scores) || !equal(f32s(tb.TensorContent), boxes) || len(tb.TensorShape.GetDim()) != 3 {
		t.Errorf("tfs grpc: %v", tr)
	}

	// TF Serving REST, column format (named, as DAGs require).
	nested := make([][][][]float32, 1)
	nested[0] = make([][][]float32, 3)
	for c := range 3 {
		nested[0][c] = make([][]float32, 64)
		for y := range 64 {
			nested[0][c][y] = img[(c*64+y)*64 : (c*64+y+1)*64]
		}
	}
	body, _ := json.Marshal(map[string]any{"inputs": map[string]any{"image": nested}})
	code, out := post(t, s.url("/v1/models/detect_classify:predict"), string(body))
	var pr struct {
		Outputs struct {
			Labels [][]int32     `json:"labels"`
			Scores [][]float32   `json:"scores"`
			Boxes  [][][]float32 `json:"boxes"`
		} `json:"outputs"`
	}
	if code != 200 || json.Unmarshal([]byte(out), &pr) != nil || len(pr.Outputs.Labels) != 2 || len(pr.Outputs.Boxes) != 2 {
		t.Fatalf("tfs rest: %d %s", code, out)
	}
	if o := pr.Outputs; o.Labels[0][0] != labels[0] || o.Labels[1][0] != labels[1] ||
		!near([]float32{o.Scores[0][0], o.Scores[1][0]}, scores) || !equal(append(o.Boxes[0][0], o.Boxes[1][0]...), boxes) {
		t.Errorf("tfs rest: %s", out)
	}

	// The page's example request (a shell script) gets the labels.
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	examples := docScripts(t, filepath.Join(root, "docs", "custom-nodes.md"), "<!-- custom-nodes-doc example expect=")
	if len(examples) != 1 {
		t.Errorf("docs/custom-nodes.md: %d examples, want 1", len(examples))
	}
	for expect, script := range examples {
		script = strings.ReplaceAll(script, "localhost:8000", s.url("")[len("http://"):])
		out, err := exec.Command("bash", "-eo", "pipefail", "-c", script).CombinedOutput()
		if err != nil || !strings.Contains(string(out), expect) {
			t.Errorf("%s: %v: output lacks %q:\n%s", script, err, expect, out)
		}
	}

	// Metadata derived from the graph: the image, and outputs gathered
	// over a dynamic count of boxes.
	km, err := kc.ModelMetadata(ctx(t), &kpb.ModelMetadataRequest{Name: "detect_classify"})
	if err != nil || len(km.Inputs) != 1 || km.Inputs[0].Name != "image" || !slices.Equal(km.Inputs[0].Shape, []int64{1, 3, 64, 64}) || len(km.Outputs) != 3 {
		t.Errorf("metadata: %v %v", km, err)
	}
	for _, o := range km.GetOutputs() {
		if o.Name == "boxes" && !slices.Equal(o.Shape, []int64{-1, 1, 4}) {
			t.Errorf("boxes metadata %v, want [-1 1 4]", o.Shape)
		}
	}
}

// TestPipelineCustomNodeCrash SIGKILLs the argmax library, then the
// cropboxes one, while clients run the detection pipeline, a model-only
// pipeline and a plain model on one ovms: only detection requests in
// flight on it may fail (UNAVAILABLE), the others see no failure, and the
// restarted library answers the pipeline correctly again without a
// configuration reload.
func TestPipelineCustomNodeCrash(t *testing.T) {
	dummy := fmt.Sprintf(`{"config": {"name": "dummy", "base_path": %q}}`, filepath.Join(modelsDir, "dummy"))
	add := fmt.Sprintf(`{"config": {"name": "add", "base_path": %q}}`, filepath.Join(modelsDir, "add_two_inputs"))
	cfg := detectionDir(t, withExtras(t, detectionDocConfig(t), []string{dummy, add}, []string{branchesPipe}))
	s := startArgs(t, "--config_path", cfg)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	img := f32bytes(detectionImage()...)
	if err := detectKServe(t, kc, img); err != nil {
		t.Fatalf("%v\n%s", err, s.log())
	}
	// argmax runs once per box; cropboxes is the demultiplexer.
	for _, lib := range []string{"argmax", "cropboxes"} {
		crashLibrary(t, s, kc, img, lib)
	}
	if st := versionStates(t, s); st["detect_classify"] != "1:AVAILABLE" || st["branches"] != "1:AVAILABLE" {
		t.Errorf("states after the restarts: %v", st)
	}
	if log := s.log(); strings.Contains(log, "configuration file changed") || strings.Contains(log, "pipeline definition validation failed") {
		t.Errorf("a restart went through a reload or a failed validation:\n%s", grepLines(log, "pipeline"))
	}
	s.alive()
}

// crashLibrary SIGKILLs lib's process under load (three clients of the
// detection pipeline, one of branches, one of dummy) and checks that only
// detection requests failed, at most one per client (those in flight),
// with UNAVAILABLE; that the other library was left alone; and that the
// restarted library answers the pipeline correctly.
func crashLibrary(t *testing.T, s *server, kc kpb.GRPCInferenceServiceClient, img []byte, lib string) {
	t.Helper()
	pids := nodePids(t, s)
	if pids["argmax"] == 0 || pids["cropboxes"] == 0 {
		t.Fatalf("library processes %v", pids)
	}
	other := map[string]string{"argmax": "cropboxes", "cropboxes": "argmax"}[lib]
	const detectWorkers = 3
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var detectFails []error
	var detectOK, otherOK atomic.Int64
	others := map[string]func() error{
		"branches": func() error {
			r, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "branches", Inputs: []*inT{{Name: "in", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
			if err == nil && f32s(r.RawOutputContents[0])[9] != 20 {
				err = fmt.Errorf("branches answered %v", f32s(r.RawOutputContents[0]))
			}
			return err
		},
		"dummy": func() error { return dummyInfer(t, s, "dummy", "") },
	}
	for name, call := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := call(); err != nil {
					t.Errorf("%s failed while a custom node library crashed: %v", name, err)
					return
				}
				otherOK.Add(1)
			}
		}()
	}
	for range detectWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := detectKServe(t, kc, img); err != nil {
					mu.Lock()
					detectFails = append(detectFails, err)
					mu.Unlock()
					continue
				}
				detectOK.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	before := detectOK.Load()
	if err := syscall.Kill(pids[lib], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, lib+" restarted", func() (bool, string) {
		now := nodePids(t, s)
		return now[lib] != 0 && now[lib] != pids[lib], fmt.Sprint(now)
	})
	restarted := detectOK.Load()
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if before == 0 || detectOK.Load() <= restarted {
		t.Errorf("%s: detection requests: %d before the kill, %d by the restart, %d at the end", lib, before, restarted, detectOK.Load())
	}
	if len(detectFails) > detectWorkers {
		t.Errorf("%d detection requests failed, more than the %d that can have been in flight: %v", len(detectFails), detectWorkers, detectFails)
	}
	for _, err := range detectFails {
		if status.Code(err) != codes.Unavailable {
			t.Errorf("a detection request failed with %v, want UNAVAILABLE", err)
		}
	}
	t.Logf("%s killed: detection %d ok, %d failed (%v); others: %d ok", lib, detectOK.Load(), len(detectFails), detectFails, otherOK.Load())
	if now := nodePids(t, s); now[other] != pids[other] {
		t.Errorf("%s restarted too: %v -> %v", other, pids, now)
	}
	if err := detectKServe(t, kc, img); err != nil {
		t.Errorf("after the restart of %s: %v", lib, err)
	}
}

// customNode is a custom pipeline node's JSON.
func customNode(name, library, params, inputs, outputs string, extra ...string) string {
	s := fmt.Sprintf(`{"name": %q, "type": "custom", "library_name": %q, "params": {%s}, "inputs": [%s], "outputs": [%s]`, name, library, params, inputs, outputs)
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

// TestPipelineCustomNodeValidation: definitions with custom nodes that
// fail validation, each LOADING with FAILED_PRECONDITION, with OVMS's text
// in the log and "Pipeline is not loaded yet" for its requests, while the
// documented detection pipeline beside them serves; and a valid one whose
// custom demultiplexer finds nothing (OVMS's ABORTED / 204).
func TestPipelineCustomNodeValidation(t *testing.T) {
	cropParams := `"original_image_width": "64", "original_image_height": "64", "target_image_width": "32", "target_image_height": "32"`
	detect := node("detect", "detection", src("image", "request", "image"), alias("detection", "detection"))
	cropIn := src("image", "request", "image") + "," + src("detection", "detect", "detection")
	want := map[string]string{}
	var defs []string
	add := func(name, text string, nodes []string, outputs string) {
		defs = append(defs, pipe(name, `"image"`, nodes, outputs))
		want[name] = text
	}
	add("unknown_library", "Pipeline refers to incorrect library", []string{detect,
		customNode("crop", "nolib", cropParams, cropIn, alias("coordinates", "boxes"), `"demultiply_count": -1`)}, src("boxes", "crop", "boxes"))
	add("failed_initialize", "Failure during custom node library initialization", []string{detect,
		customNode("crop", "cropboxes", `"target_image_width": "0", "target_image_height": "32"`, cropIn, alias("coordinates", "boxes"), `"demultiply_count": -1`)}, src("boxes", "crop", "boxes"))
	add("failed_initialize_argmax", "Failure during custom node library initialization", []string{detect,
		customNode("pick", "argmax", `"rank": "four"`, src("scores", "detect", "detection"), alias("label", "label"))}, src("label", "pick", "label"))
	add("shape_custom_to_model", "Invalid input shape", []string{detect,
		customNode("crop", "cropboxes", `"original_image_width": "64", "original_image_height": "64", "target_image_width": "16", "target_image_height": "16"`, cropIn, alias("images", "crops"), `"demultiply_count": -1`),
		node("classify", "classification", src("input", "crop", "crops"), alias("probabilities", "p"))}, src("p", "classify", "p"))
	add("shape_model_to_custom", "Invalid input shape", []string{detect,
		customNode("pick", "argmax", `"input": "scores"`, src("scores", "detect", "detection"), alias("label", "label"))}, src("label", "pick", "label"))
	add("precision_custom_to_model", "Invalid input precision", []string{detect,
		customNode("crop", "cropboxes", cropParams, cropIn, alias("label_ids", "ids"), `"demultiply_count": -1`),
		node("classify", "classification", src("input", "crop", "ids"), alias("probabilities", "p"))}, src("p", "classify", "p"))
	add("missing_node_output", "Pipeline definition has reference to missing model output", []string{detect,
		customNode("crop", "cropboxes", cropParams, cropIn, alias("nope", "boxes"), `"demultiply_count": -1`)}, src("boxes", "crop", "boxes"))
	add("missing_node_input", "Pipeline definition has connection to non existing model input", []string{detect,
		customNode("crop", "cropboxes", cropParams, cropIn+","+src("nope", "request", "image"), alias("coordinates", "boxes"), `"demultiply_count": -1`)}, src("boxes", "crop", "boxes"))
	add("node_inputs_unconnected", "Pipeline definition does not have connections for all inputs of underlying models", []string{detect,
		customNode("crop", "cropboxes", cropParams, src("detection", "detect", "detection"), alias("coordinates", "boxes"), `"demultiply_count": -1`)}, src("boxes", "crop", "boxes"))
	add("ambiguous_image", "Multiple nodes connected to the same pipeline input require different tensor metadata", []string{detect,
		customNode("crop", "cropboxes", `"target_image_width": "32", "target_image_height": "32"`, cropIn, alias("coordinates", "boxes"), `"demultiply_count": -1`)}, src("boxes", "crop", "boxes"))

	// Valid, but no box reaches its threshold: at run time the
	// demultiplexer has nothing to split.
	noBoxes := pipe("no_boxes", `"image"`, []string{detect,
		customNode("crop", "cropboxes", cropParams+`, "confidence_threshold": "0.95"`, cropIn, alias("coordinates", "boxes"), `"demultiply_count": -1`)},
		src("boxes", "crop", "boxes"))
	cfg := detectionDir(t, withExtras(t, detectionDocConfig(t), nil, append(defs, noBoxes)))
	s := startArgs(t, "--config_path", cfg)
	states := versionStates(t, s)
	log := s.log()
	for name, text := range want {
		if states[name] != "1:LOADING" {
			t.Errorf("%s: state %q", name, states[name])
		}
		// The error starts with OVMS's text (logfmt: error="<text> - <details>").
		if lines := grepLines(log, "pipeline: "+name+";"); !strings.Contains(lines, `error="`+text+" - ") {
			t.Errorf("%s: the log has no %q:\n%s", name, text, grepLines(log, name))
		}
	}
	if states["detect_classify"] != "1:AVAILABLE" {
		t.Errorf("detect_classify: %q\n%s", states["detect_classify"], grepLines(log, "detect_classify"))
	}
	code, body := get(t, s.url("/v1/models/failed_initialize"))
	if code != 200 || !strings.Contains(body, `"error_code": "FAILED_PRECONDITION"`) || !strings.Contains(body, `"state": "LOADING"`) {
		t.Errorf("status of failed_initialize: %d %s", code, body)
	}
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "failed_initialize",
		Inputs: []*inT{{Name: "image", Datatype: "FP32", Shape: []int64{1, 3, 64, 64}}}, RawInputContents: [][]byte{f32bytes(detectionImage()...)}})
	if status.Convert(err).Message() != "Pipeline is not loaded yet" {
		t.Errorf("request to failed_initialize: %v", err)
	}
	if err := detectKServe(t, kc, f32bytes(detectionImage()...)); err != nil {
		t.Errorf("detect_classify: %v", err)
	}
	// OVMS's PIPELINE_DEMULTIPLEXER_NO_RESULTS: ABORTED over gRPC, 204 over REST.
	_, err = kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "no_boxes",
		Inputs: []*inT{{Name: "image", Datatype: "FP32", Shape: []int64{1, 3, 64, 64}}}, RawInputContents: [][]byte{f32bytes(detectionImage()...)}})
	if status.Code(err) != codes.Aborted || !strings.HasPrefix(status.Convert(err).Message(), "Pipeline execution aborted due to no content from custom node") {
		t.Errorf("no boxes: %v", err)
	}
	data, _ := json.Marshal(detectionImage())
	if code, body := post(t, s.url("/v2/models/no_boxes/infer"), `{"inputs":[{"name":"image","shape":[1,3,64,64],"datatype":"FP32","data":`+string(data)+`}]}`); code != 204 {
		t.Errorf("no boxes over REST: %d %s", code, body)
	}
}

// TestPipelineCustomNodeLibraryReload: a reload that removes a library
// from custom_node_library_config_list fails the pipelines that use it
// (LOADING, FAILED_PRECONDITION, "Pipeline refers to incorrect library")
// and stops its process; adding it back makes them AVAILABLE again.
func TestPipelineCustomNodeLibraryReload(t *testing.T) {
	full := detectionDocConfig(t)
	cfg := detectionDir(t, full)
	s := startArgs(t, "--config_path", cfg)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	img := f32bytes(detectionImage()...)
	if err := detectKServe(t, kc, img); err != nil {
		t.Fatalf("%v\n%s", err, s.log())
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(full), &f); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, l := range f["custom_node_library_config_list"].([]any) {
		if l.(map[string]any)["name"] != "argmax" {
			kept = append(kept, l)
		}
	}
	f["custom_node_library_config_list"] = kept
	without, _ := json.Marshal(f)
	writeConfig(t, cfg, string(without))
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("reload without argmax: %d %s", code, body)
	}
	if st := versionStates(t, s); st["detect_classify"] != "1:LOADING" {
		t.Fatalf("without argmax: %v\n%s", st, grepLines(s.log(), "pipeline"))
	}
	if code, body := get(t, s.url("/v1/models/detect_classify")); !strings.Contains(body, `"error_code": "FAILED_PRECONDITION"`) {
		t.Errorf("status without argmax: %d %s", code, body)
	}
	if !strings.Contains(grepLines(s.log(), "detect_classify"), `error="Pipeline refers to incorrect library - `) {
		t.Errorf("the log has no validation failure:\n%s", grepLines(s.log(), "detect_classify"))
	}
	if err := detectKServe(t, kc, img); status.Convert(err).Message() != "Pipeline is not loaded yet" {
		t.Errorf("request without argmax: %v", err)
	}
	eventually(t, "argmax stopped", func() (bool, string) {
		now := nodePids(t, s)
		return now["argmax"] == 0 && now["cropboxes"] != 0, fmt.Sprint(now)
	})

	writeConfig(t, cfg, full)
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("reload with argmax: %d %s", code, body)
	}
	if st := versionStates(t, s); st["detect_classify"] != "1:AVAILABLE" {
		t.Fatalf("argmax back: %v\n%s", st, grepLines(s.log(), "pipeline"))
	}
	if err := detectKServe(t, kc, img); err != nil {
		t.Errorf("argmax back: %v", err)
	}
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 200 {
		t.Errorf("reload without changes: %d %s", code, body)
	}

	// argmax moves (another base_path): its process is started anew from
	// the new program and the pipeline opens its node there.
	moved := filepath.Join(t.TempDir(), "ovms-node-argmax")
	prog, err := os.ReadFile(filepath.Join(binDir, "ovms-node-argmax"))
	if err != nil || os.WriteFile(moved, prog, 0o755) != nil {
		t.Fatalf("copy argmax: %v", err)
	}
	old := nodePids(t, s)["argmax"]
	writeConfig(t, cfg, strings.Replace(full, `"bin/ovms-node-argmax"`, fmt.Sprintf("%q", moved), 1))
	if code, body := post(t, s.url("/v1/config/reload"), ""); code != 201 {
		t.Fatalf("reload with argmax moved: %d %s", code, body)
	}
	if pids := nodePids(t, s); pids["argmax"] == 0 || pids["argmax"] == old || exe(pids["argmax"]) != moved {
		t.Errorf("argmax after the move: %v (%s)", pids, exe(pids["argmax"]))
	}
	if st := versionStates(t, s); st["detect_classify"] != "1:AVAILABLE" {
		t.Fatalf("argmax moved: %v\n%s", st, grepLines(s.log(), "pipeline"))
	}
	if err := detectKServe(t, kc, img); err != nil {
		t.Errorf("argmax moved: %v\n%s", err, grepLines(s.log(), "argmax"))
	}
}

// TestPipelineValidateOffline: ovms validate passes the documented
// detection pipeline's config.json, and names, with OVMS's texts, the
// pipeline errors it can find without loading a model or starting a
// library (an unknown library or model, a cycle, two demultiplexers with a
// dynamic one, a pipeline named like a model), exiting 1.
func TestPipelineValidateOffline(t *testing.T) {
	doc := detectionDocConfig(t)
	cfg := detectionDir(t, doc)
	if code, out, stderr := runOVMS(t, "validate", cfg); code != 0 || !strings.Contains(out, "valid, 2 models, 1 pipeline") {
		t.Errorf("validate of the documented config: exit %d %s %s", code, out, stderr)
	}
	in := src("image", "request", "image")
	bad := []string{
		pipe("unknown_library", `"image"`, []string{customNode("c", "nolib", "", in, alias("x", "x"))}, src("out", "c", "x")),
		pipe("unknown_model", `"image"`, []string{node("d", "nomodel", in, alias("x", "x"))}, src("out", "d", "x")),
		pipe("cycle", `"image"`, []string{node("a", "detection", src("image", "b", "b"), alias("detection", "a")), node("b", "detection", src("image", "a", "a"), alias("detection", "b"))}, src("out", "b", "b")),
		pipe("two_demux", `"image"`, []string{node("a", "detection", in, alias("detection", "a"), `"demultiply_count": -1`),
			node("b", "detection", src("image", "a", "a"), alias("detection", "b"), `"demultiply_count": 2`)}, src("out", "b", "b")),
		pipe("detection", `"image"`, []string{node("a", "detection", in, alias("detection", "a"))}, src("out", "a", "a")),
	}
	writeConfig(t, cfg, withExtras(t, doc, nil, bad))
	code, out, stderr := runOVMS(t, "validate", cfg)
	for name, text := range map[string]string{
		"unknown_library": "Pipeline refers to incorrect library", "unknown_model": "Pipeline definition has reference to missing model",
		"cycle": "Pipeline definition contains a cycle", "two_demux": "Functionality not implemented",
	} {
		if !strings.Contains(out, fmt.Sprintf("error: pipeline %q: %s - ", name, text)) {
			t.Errorf("%s: no %q in\n%s", name, text, out)
		}
	}
	if !strings.Contains(out, "Pipeline name: detection is already occupied by model") || !strings.Contains(out, "the pipeline is skipped") {
		t.Errorf("the pipeline named like a model:\n%s", out)
	}
	if code != 1 || !strings.Contains(stderr, "5 of 6 pipelines would not validate") || strings.Contains(out, `pipeline "detect_classify"`) {
		t.Errorf("validate: exit %d\n%s\n%s", code, out, stderr)
	}
}
