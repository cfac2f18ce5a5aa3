package storageservers

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lister and getter are what the tests read back with: the same client the
// server's Put uses.
type lister interface {
	list(ctx context.Context, bucket, prefix string) ([]string, error)
	get(ctx context.Context, bucket, key string) ([]byte, error)
}

// repoRoot is the folder of go.mod above the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// start starts a server, logs how long it took and closes it at the end.
func start(t *testing.T, what string, f func() (Server, error)) Server {
	t.Helper()
	t0 := time.Now()
	s, err := f()
	if err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	t.Logf("%s started in %s; env %q", what, time.Since(t0).Round(time.Millisecond), s.Env())
	t.Cleanup(func() {
		t0 := time.Now()
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", what, err)
		}
		t.Logf("%s closed in %s", what, time.Since(t0).Round(time.Millisecond))
	})
	return s
}

func azuriteForTest(t *testing.T) Server {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not on PATH: cannot install azurite (install Node.js and npm)")
	}
	root := repoRoot(t)
	return start(t, "azurite", func() (Server, error) { return StartAzurite(root) })
}

// exercise creates a bucket, puts two objects, lists and reads them back,
// deletes a prefix and checks what is left.
func exercise(t *testing.T, s Server, scheme string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got := s.Scheme(); got != scheme {
		t.Errorf("Scheme() = %q, want %q", got, scheme)
	}
	rd := s.(lister)
	const bucket = "models"
	if err := s.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"dummy/1/model.onnx":    bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<16),
		"dummy/1/mapping.json":  []byte(`{"inputs":{},"outputs":{}}`),
		"other/2/model.onnx":    []byte("other"),
		"dummy-extra/keep.json": []byte("{}"),
		// Over the 16 MiB chunk of the GCS client: a resumable upload.
		"other/big/weights.bin": bytes.Repeat([]byte("0123456789abcdef"), 17<<16+3),
	}
	for k, v := range objects {
		if err := s.Put(ctx, bucket, k, v); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := rd.list(ctx, bucket, "dummy/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"dummy/1/mapping.json", "dummy/1/model.onnx"}; !slices.Equal(keys, want) {
		t.Errorf("list dummy/ = %q, want %q", keys, want)
	}
	for k, v := range objects {
		got, err := rd.get(ctx, bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, v) {
			t.Errorf("get %s: %d bytes, want the %d put", k, len(got), len(v))
		}
	}
	if err := s.Delete(ctx, bucket, "dummy/"); err != nil {
		t.Fatal(err)
	}
	keys, err = rd.list(ctx, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"dummy-extra/keep.json", "other/2/model.onnx", "other/big/weights.bin"}; !slices.Equal(keys, want) {
		t.Errorf("after Delete(dummy/): %q, want %q", keys, want)
	}
	if err := s.Delete(ctx, bucket, "nothing/"); err != nil {
		t.Errorf("Delete of an empty prefix: %v", err)
	}
	if err := s.Put(ctx, "no-such-bucket", "k", []byte("v")); err == nil {
		t.Error("Put into a missing bucket succeeded")
	}
}

func TestS3(t *testing.T) {
	s := start(t, "s3", StartS3)
	exercise(t, s, "s3")
	env := strings.Join(s.Env(), "\n")
	for _, want := range []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_REGION=us-east-1", "S3_ENDPOINT=http://127.0.0.1:"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %s: %q", want, s.Env())
		}
	}
}

func TestGCS(t *testing.T) {
	s := start(t, "gcs", StartGCS)
	exercise(t, s, "gs")
	if env := s.Env(); len(env) != 1 || !strings.HasPrefix(env[0], "STORAGE_EMULATOR_HOST=127.0.0.1:") {
		t.Errorf("Env() = %q", env)
	}
}

func TestAzurite(t *testing.T) {
	s := azuriteForTest(t)
	exercise(t, s, "az")
	if env := s.Env(); len(env) != 1 || !strings.HasPrefix(env[0], "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;") {
		t.Errorf("Env() = %q", env)
	}
}

// TestAzuriteClose checks that Close stops the process and frees the port.
func TestAzuriteClose(t *testing.T) {
	s := azuriteForTest(t)
	a := s.(*azuriteServer)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	default:
		t.Fatal("azurite still running after Close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.CreateBucket(ctx, "after-close"); err == nil {
		t.Error("CreateBucket after Close succeeded")
	}
	if _, err := os.Stat(a.workDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work folder %s left: %v", a.workDir, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUploadDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"dummy/1/model.onnx":          "onnx",
		"dummy/1/mapping_config.json": "{}",
		"dummy/2/model.onnx":          "onnx v2",
		"dummy/2/sub/deep/weights":    "w",
		"top.txt":                     "top",
	}
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty", "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	servers := map[string]func(t *testing.T) Server{
		"s3":      func(t *testing.T) Server { return start(t, "s3", StartS3) },
		"gcs":     func(t *testing.T) Server { return start(t, "gcs", StartGCS) },
		"azurite": azuriteForTest,
		"azfiles": func(t *testing.T) Server { return azureFilesForTest(t, AzureFilesOptions{PageSize: 3}) },
	}
	for _, name := range []string{"s3", "gcs", "azurite", "azfiles"} {
		t.Run(name, func(t *testing.T) {
			s := servers[name](t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.CreateBucket(ctx, "repo"); err != nil {
				t.Fatal(err)
			}
			for _, prefix := range []string{"models/v1", ""} {
				if err := UploadDir(ctx, s, dir, "repo", prefix); err != nil {
					t.Fatal(err)
				}
			}
			rd := s.(lister)
			keys, err := rd.list(ctx, "repo", "")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for rel := range files {
				want = append(want, rel, "models/v1/"+rel)
			}
			slices.Sort(want)
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				t.Fatalf("keys = %q\nwant %q", keys, want)
			}
			for rel, data := range files {
				got, err := rd.get(ctx, "repo", "models/v1/"+rel)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != data {
					t.Errorf("%s = %q, want %q", rel, got, data)
				}
			}
		})
	}
	if err := UploadDir(context.Background(), nil, filepath.Join(dir, "missing"), "repo", ""); err == nil {
		t.Error("UploadDir of a missing folder succeeded")
	}
}
