package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/integration/storageservers"
)

// The tests here serve models from azfs:// URLs through the Azure Files
// server of storageservers (Azurite has no Azure Files service); the
// version-following flow is part of TestCloudStorage.

// startAzureFiles starts the Azure Files server with a share "models"
// holding dummy's version 1 under repo/dummy; listings page every two
// entries.
func startAzureFiles(t *testing.T) *storageservers.AzureFiles {
	t.Helper()
	srv, err := storageservers.StartAzureFiles(storageservers.AzureFilesOptions{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := context.Background()
	if err := srv.CreateBucket(c, "models"); err != nil {
		t.Fatal(err)
	}
	if err := storageservers.UploadDir(c, srv, filepath.Join(modelsDir, "dummy", "1"), "models", "repo/dummy/1"); err != nil {
		t.Fatal(err)
	}
	return srv
}

// cacheOf is the download cache of a running ovms.
func cacheOf(s *server) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("ovms-models-%d", s.cmd.Process.Pid))
}

// cachedFile reads the downloaded copy of version/name under the cache;
// ok is false when there is none.
func cachedFile(t *testing.T, s *server, version, name string) (data []byte, ok bool) {
	t.Helper()
	var found string
	_ = filepath.WalkDir(cacheOf(s), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == name && filepath.Base(filepath.Dir(p)) == version {
			found = p
		}
		return nil
	})
	if found == "" {
		return nil, false
	}
	data, err := os.ReadFile(found)
	if err != nil {
		t.Fatal(err)
	}
	return data, true
}

// fileRequests lists the Get File requests for share/key as "status
// range cut".
func fileRequests(srv *storageservers.AzureFiles, key string) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Method == "GET" && r.Path == key {
			out = append(out, fmt.Sprintf("%d %s cut=%v", r.Status, r.Range, r.Cut))
		}
	}
	return out
}

// TestAzureFilesDroppedConnection serves dummy from azfs:// while the
// server closes the connection halfway through model.onnx's body, once:
// the download resumes with a range request for the rest, the model is
// AVAILABLE, infers, and its downloaded copy is byte for byte the file in
// the share (the account-and-key settings are used, not a connection
// string).
func TestAzureFilesDroppedConnection(t *testing.T) {
	srv := startAzureFiles(t)
	want, err := os.ReadFile(filepath.Join(modelsDir, "dummy", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	half := int64(len(want) / 2)
	srv.CutDownload("models", "repo/dummy/1/model.onnx", half, 1, nil)
	s := startEnv(t, srv.SharedKeyEnv(), "--model_name", "dummy", "--model_path", "azfs://models/repo/dummy", "--file_system_poll_wait_seconds", "1")
	if err := dummyInfer(t, s, "dummy", ""); err != nil {
		t.Fatalf("infer: %v\n%s", err, s.log())
	}
	if st := versionStates(t, s)["dummy"]; st != "1:AVAILABLE" {
		t.Errorf("states %q", st)
	}
	wantReqs := []string{"200  cut=true", fmt.Sprintf("206 bytes=%d- cut=false", half)}
	if got := fileRequests(srv, "models/repo/dummy/1/model.onnx"); strings.Join(got, "|") != strings.Join(wantReqs, "|") {
		t.Errorf("requests for model.onnx: %q, want %q", got, wantReqs)
	}
	got, ok := cachedFile(t, s, "1", "model.onnx")
	if !ok || !bytes.Equal(got, want) {
		t.Errorf("the downloaded model.onnx (%d bytes, found %v) differs from the share's (%d bytes)", len(got), ok, len(want))
	}
}

// TestAzureFilesBrokenDownloads adds a version 2 whose download cannot
// give the file as listed: a file replaced between the cut and the resumed
// read (the resumed bytes would belong to another file of the same size),
// and a file whose every answer is cut before its first byte. Neither is
// loaded from what arrived, no copy is left in the cache, and version 1
// keeps serving.
func TestAzureFilesBrokenDownloads(t *testing.T) {
	cases := []struct {
		name string
		cut  func(srv *storageservers.AzureFiles, key string, orig []byte)
		log  string
	}{
		{"replaced mid-download", func(srv *storageservers.AzureFiles, key string, orig []byte) {
			srv.CutDownload("models", key, int64(len(orig)/2), 1, func() {
				_ = srv.Put(context.Background(), "models", key, bytes.ToUpper(orig))
			})
		}, "changed while it was downloaded"},
		{"always cut", func(srv *storageservers.AzureFiles, key string, orig []byte) {
			srv.CutDownload("models", key, 0, -1, nil)
		}, "vocab.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startAzureFiles(t)
			s := startEnv(t, srv.Env(), "--model_name", "dummy", "--model_path", "azfs://models/repo/dummy", "--file_system_poll_wait_seconds", "1")
			if err := dummyInfer(t, s, "dummy", ""); err != nil {
				t.Fatal(err)
			}
			vocab := []byte(strings.Repeat("a b c d e f g h\n", 16<<10)) // 256 KiB
			key := "repo/dummy/2/vocab.txt"
			model, err := os.ReadFile(filepath.Join(modelsDir, "dummy", "1", "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			c.cut(srv, key, vocab)
			// Both files at once, so that no poll sees half a version.
			if err := srv.PutFiles("models", map[string][]byte{key: vocab, "repo/dummy/2/model.onnx": model}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "version 2 fails", func() (bool, string) {
				st := versionStates(t, s)["dummy"]
				return st == "1:AVAILABLE 2:LOADING", st
			})
			if got, ok := cachedFile(t, s, "2", "vocab.txt"); ok {
				t.Errorf("version 2's vocab.txt was kept in the cache (%d bytes, %d of them as in the share)", len(got), commonPrefix(got, vocab))
			}
			if err := dummyInfer(t, s, "dummy", ""); err != nil {
				t.Errorf("version 1 stopped serving: %v", err)
			}
			if !strings.Contains(s.log(), c.log) {
				t.Errorf("the log does not say %q:\n%s", c.log, s.log())
			}
			s.alive()
		})
	}
}

// commonPrefix counts the leading bytes a and b share.
func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestAzureFilesWrongKey serves a config whose azfs:// model cannot be
// listed with the key given: the server starts, the model has no version,
// and the log says access was denied.
func TestAzureFilesWrongKey(t *testing.T) {
	srv := startAzureFiles(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	writeConfig(t, cfg, `{"model_config_list": [{"config": {"name": "dummy", "base_path": "azfs://models/repo/dummy"}}]}`)
	env := srv.SharedKeyEnv()
	for i, e := range env {
		if strings.HasPrefix(e, "AZURE_STORAGE_KEY=") {
			env[i] = "AZURE_STORAGE_KEY=" + strings.Repeat("QUJD", 22) // base64, not the key
		}
	}
	s := startEnv(t, env, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")
	if st := versionStates(t, s)["dummy"]; st != "" {
		t.Errorf("states %q, want none", st)
	}
	if !strings.Contains(s.log(), `access to share \"models\" denied`) && !strings.Contains(s.log(), `access to share "models" denied`) {
		t.Errorf("the log does not say access was denied:\n%s", s.log())
	}
	denied := 0
	for _, r := range srv.Requests() {
		if r.Status == 403 {
			denied++
		}
	}
	if denied == 0 {
		t.Errorf("the server denied no request: %+v", srv.Requests())
	}
}
