package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kpb "github.com/ovmsgo/ovms/proto/kserve"
	tfspb "github.com/ovmsgo/ovms/proto/tensorflow_serving/apis"
)

type indexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

func repoIndex(t *testing.T, s *server, body string) []indexEntry {
	t.Helper()
	code, out := post(t, s.url("/v2/repository/index"), body)
	if code != 200 {
		t.Fatalf("index: %d %s", code, out)
	}
	var idx []indexEntry
	if err := json.Unmarshal([]byte(out), &idx); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return idx
}

// TestModelRepositoryExtension unloads and loads a model over REST and
// gRPC, and picks up a version folder added while serving.
func TestModelRepositoryExtension(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dummy")
	if out, err := exec.Command("cp", "-r", filepath.Join(modelsDir, "dummy"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	s := startAt(t, nil, "dummy", dir)
	kc := kpb.NewGRPCInferenceServiceClient(s.conn)
	infer := func(version string) error {
		_, err := kc.ModelInfer(ctx(t), &kpb.ModelInferRequest{ModelName: "dummy", ModelVersion: version,
			Inputs: []*inT{{Name: "b", Datatype: "FP32", Shape: []int64{1, 10}}}, RawInputContents: [][]byte{f32bytes(seq(10, 0)...)}})
		return err
	}

	if idx := repoIndex(t, s, ""); len(idx) != 1 || idx[0] != (indexEntry{Name: "dummy", Version: "1", State: "READY"}) {
		t.Fatalf("index: %+v", idx)
	}
	if code, out := post(t, s.url("/v2/repository/models/dummy/unload"), ""); code != 200 {
		t.Fatalf("unload: %d %s", code, out)
	}
	if idx := repoIndex(t, s, ""); len(idx) != 1 || idx[0] != (indexEntry{Name: "dummy", Version: "1", State: "UNAVAILABLE", Reason: "unloaded"}) {
		t.Fatalf("index after unload: %+v", idx)
	}
	if idx := repoIndex(t, s, `{"ready": true}`); len(idx) != 0 {
		t.Fatalf("ready index after unload: %+v", idx)
	}
	if err := infer("1"); status.Code(err) != codes.NotFound || status.Convert(err).Message() != "Model with requested version is retired" {
		t.Fatalf("infer on the unloaded version: %v", err)
	}
	if err := infer(""); status.Code(err) != codes.NotFound || status.Convert(err).Message() != "Model with requested version is not found" {
		t.Fatalf("infer on the unloaded default: %v", err)
	}
	st, err := tfspb.NewModelServiceClient(s.conn).GetModelStatus(ctx(t), &tfspb.GetModelStatusRequest{ModelSpec: &tfspb.ModelSpec{Name: "dummy"}})
	if err != nil || st.ModelVersionStatus[0].State.String() != "END" {
		t.Fatalf("status after unload: %v %v", st, err)
	}

	if _, err := kc.RepositoryModelLoad(ctx(t), &kpb.RepositoryModelLoadRequest{ModelName: "dummy"}); err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := infer(""); err != nil {
		t.Fatalf("infer after load: %v", err)
	}

	// A new version folder is picked up by load; the default policy
	// (latest 1) retires version 1.
	if out, err := exec.Command("cp", "-r", filepath.Join(dir, "1"), filepath.Join(dir, "2")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if _, err := kc.RepositoryModelLoad(ctx(t), &kpb.RepositoryModelLoadRequest{ModelName: "dummy"}); err != nil {
		t.Fatalf("load with a new version: %v", err)
	}
	idx, err := kc.RepositoryIndex(ctx(t), &kpb.RepositoryIndexRequest{})
	if err != nil || len(idx.Models) != 2 || idx.Models[0].State != "UNAVAILABLE" || idx.Models[1].Version != "2" || idx.Models[1].State != "READY" {
		t.Fatalf("index with version 2: %v %v", idx, err)
	}
	ready, err := kc.RepositoryIndex(ctx(t), &kpb.RepositoryIndexRequest{Ready: true})
	if err != nil || len(ready.Models) != 1 || ready.Models[0].Version != "2" {
		t.Fatalf("ready index: %v %v", ready, err)
	}
	if err := infer("2"); err != nil {
		t.Fatalf("infer on version 2: %v", err)
	}

	// A folder that cannot load: the model's new version fails, load says so.
	if err := os.WriteFile(filepath.Join(dir, "3"), nil, 0o644); err != nil { // a file, not a folder: ignored
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "4", "model.onnx"), []byte("not onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = kc.RepositoryModelLoad(ctx(t), &kpb.RepositoryModelLoadRequest{ModelName: "dummy"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("load of a broken version: %v", err)
	}
	if err := infer(""); err != nil { // latest 1 selects 4, but 2 serves until 4 loads
		t.Fatalf("the default version while 4 fails: %v", err)
	}
	if idx := repoIndex(t, s, ""); len(idx) != 3 || idx[1] != (indexEntry{Name: "dummy", Version: "2", State: "READY"}) ||
		idx[2] != (indexEntry{Name: "dummy", Version: "4", State: "UNAVAILABLE", Reason: "loading failed; see the server log"}) {
		t.Fatalf("index with a broken version 4: %+v", idx)
	}

	// Errors.
	if code, out := post(t, s.url("/v2/repository/models/nope/load"), ""); code != 404 || out != `{"error":"Model with requested name is not found"}` {
		t.Fatalf("load of an unknown model: %d %s", code, out)
	}
	if _, err := kc.RepositoryModelUnload(ctx(t), &kpb.RepositoryModelUnloadRequest{ModelName: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("grpc unload of an unknown model: %v", err)
	}
	if code, out := get(t, s.url("/v2/repository/index")); code != 406 {
		t.Fatalf("GET index: %d %s", code, out)
	}
	if code, out := post(t, s.url("/v2/repository/index"), "[1"); code != 412 {
		t.Fatalf("index with a bad body: %d %s", code, out)
	}
	s.alive()
}
