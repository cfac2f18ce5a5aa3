package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovmsgo/ovms/integration/storageservers"
)

// TestCloudStorage serves dummy from each real storage server (an S3
// server, a GCS emulator, Azurite, the Azure Files server with a
// connection string and with account and key) through s3://, gs://, az://
// and azfs:// URLs:
// the model loads, a version uploaded while ovms runs is picked up and the
// one it replaces retires, a deleted version retires, and downloaded
// copies are removed when their version unloads.
func TestCloudStorage(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string]func() (storageservers.Server, error){
		"s3":      storageservers.StartS3,
		"gcs":     storageservers.StartGCS,
		"azurite": func() (storageservers.Server, error) { return storageservers.StartAzurite(root) },
		"azfiles": func() (storageservers.Server, error) {
			return storageservers.StartAzureFiles(storageservers.AzureFilesOptions{PageSize: 2})
		},
		"azfiles-shared-key": func() (storageservers.Server, error) {
			s, err := storageservers.StartAzureFiles(storageservers.AzureFilesOptions{})
			return sharedKeyEnv{s}, err
		},
	}
	for _, name := range []string{"s3", "gcs", "azurite", "azfiles", "azfiles-shared-key"} {
		t.Run(name, func(t *testing.T) {
			srv, err := starts[name]()
			if err != nil {
				t.Fatalf("starting %s: %v", name, err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			c := context.Background()
			if err := srv.CreateBucket(c, "models"); err != nil {
				t.Fatal(err)
			}
			v1 := filepath.Join(modelsDir, "dummy", "1")
			if err := storageservers.UploadDir(c, srv, v1, "models", "repo/dummy/1"); err != nil {
				t.Fatal(err)
			}
			// A folder that is not a version, skipped with a warning.
			if err := srv.Put(c, "models", "repo/dummy/notes/readme.txt", []byte("hi")); err != nil {
				t.Fatal(err)
			}
			url := fmt.Sprintf("%s://models/repo/dummy", srv.Scheme())
			s := startEnv(t, srv.Env(), "--model_name", "dummy", "--model_path", url, "--file_system_poll_wait_seconds", "1")
			if err := dummyInfer(t, s, "dummy", ""); err != nil {
				t.Fatalf("infer from %s: %v", url, err)
			}
			cache := filepath.Join(os.TempDir(), fmt.Sprintf("ovms-models-%d", s.cmd.Process.Pid))
			if n := countFiles(t, cache); n == 0 {
				t.Errorf("no downloaded copy under %s", cache)
			}

			if err := storageservers.UploadDir(c, srv, v1, "models", "repo/dummy/2"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "version 2 from "+name, func() (bool, string) {
				st := versionStates(t, s)["dummy"]
				return st == "1:END 2:AVAILABLE", st
			})
			if err := dummyInfer(t, s, "dummy", "2"); err != nil {
				t.Fatalf("infer on version 2: %v", err)
			}
			if err := srv.Delete(c, "models", "repo/dummy/2/"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "version 2 deleted from "+name, func() (bool, string) {
				st := versionStates(t, s)["dummy"]
				return st == "1:AVAILABLE 2:END", st
			})
			// Only version 1's copy is left in the cache.
			var copies []string
			_ = filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && (d.Name() == "1" || d.Name() == "2") {
					copies = append(copies, d.Name())
				}
				return nil
			})
			if strings.Join(copies, ",") != "1" {
				t.Errorf("version copies in the cache: %v, want [1]", copies)
			}
			if !strings.Contains(s.log(), "expected version directory name to be in number format") {
				t.Errorf("the notes folder was not reported:\n%s", s.log())
			}
			s.stop()
			if _, err := os.Stat(cache); !os.IsNotExist(err) {
				t.Errorf("the cache %s is still there after shutdown: %v", cache, err)
			}
		})
	}
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// sharedKeyEnv gives ovms the Azure Files server's account and key
// settings instead of its connection string.
type sharedKeyEnv struct{ *storageservers.AzureFiles }

func (s sharedKeyEnv) Env() []string { return s.SharedKeyEnv() }
