package storage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ovmsgo/ovms/core/apierr"
)

// The tests below run the remote code path against in-process S3 and GCS
// servers on the loopback interface (no outside network).

var emulatorFiles = map[string]string{
	"models/m/1/model.onnx":      "onnx bytes",
	"models/m/2/model.xml":       "<xml/>",
	"models/m/2/model.bin":       strings.Repeat("b", 70000),
	"models/m/2/sub/vocab.txt":   "a b c",
	"models/m/config/readme.txt": "not a version",
	"other/1/x":                  "y",
}

// checkEmulatorRepo checks Versions, Fetch and Release on a repository
// holding emulatorFiles, and the errors of a missing prefix and bucket.
// roundTrip opens the repository at base (versions 1 and 2, a "config"
// folder), fetches version 2 into cache, releases it and checks the cache
// is empty again; it returns version 2's files.
func roundTrip(t *testing.T, base, cache string) map[string]string {
	t.Helper()
	ctx := context.Background()
	repo, err := Open(ctx, base, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	s := skips{}
	got, err := repo.Versions(ctx, s.fn)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != base+"/1" || got[2] != base+"/2" || s["config"] != reasonNotNumber {
		t.Errorf("versions %v, skipped %v", got, s)
	}
	p, err := repo.Fetch(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(cache, cacheKey(base), "2") {
		t.Errorf("Fetch gave %q", p)
	}
	files := readTree(t, p)
	if err := repo.Release(2); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, cache); len(e) != 0 {
		t.Errorf("cache holds %v after Release", e)
	}
	return files
}

func checkEmulatorRepo(t *testing.T, scheme, bucket string) {
	t.Helper()
	ctx := context.Background()
	cache := t.TempDir()
	files := roundTrip(t, scheme+"://"+bucket+"/models/m", cache)
	if len(files) != 3 || files["model.bin"] != emulatorFiles["models/m/2/model.bin"] || files["sub/vocab.txt"] != "a b c" {
		t.Errorf("downloaded %v", keys(files))
	}

	missing, err := Open(ctx, scheme+"://"+bucket+"/models/nope", cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = missing.Versions(ctx, nil)
	wantCode(t, err, apierr.PathInvalid, scheme+"://"+bucket+"/models/nope", "nothing under")
	missing.Close()

	noBucket, err := Open(ctx, scheme+"://no-such-bucket/models/m", cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = noBucket.Versions(ctx, nil)
	wantCode(t, err, apierr.PathInvalid, scheme+"://no-such-bucket/models/m", `bucket "no-such-bucket" does not exist`)
	noBucket.Close()
}

func TestS3Emulator(t *testing.T) {
	clearCloudEnv(t)
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	if err := backend.CreateBucket("bucket"); err != nil {
		t.Fatal(err)
	}
	for k, v := range emulatorFiles {
		if _, err := backend.PutObject("bucket", k, map[string]string{}, strings.NewReader(v), int64(len(v)), nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "emulatorsecret")
	t.Run("S3_ENDPOINT", func(t *testing.T) {
		t.Setenv("S3_ENDPOINT", srv.URL)
		checkEmulatorRepo(t, "s3", "bucket")
	})
	t.Run("S3_ENDPOINT without scheme", func(t *testing.T) {
		t.Setenv("S3_ENDPOINT", strings.TrimPrefix(srv.URL, "http://"))
		checkEmulatorRepo(t, "s3", "bucket")
	})
	t.Run("endpoint in the URL", func(t *testing.T) {
		host := strings.TrimPrefix(srv.URL, "http://")
		repo, err := Open(context.Background(), "s3://"+host+"/bucket/models/m", t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		if _, err := repo.Fetch(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		t.Setenv("S3_ENDPOINT", srv.URL)
		checkEmulatorRepo(t, "s3", "bucket")
	})
}

// TestS3ErrorsHideCredentials runs against a server that refuses every
// request and echoes what it received, credentials included, in its error
// message.
func TestS3ErrorsHideCredentials(t *testing.T) {
	clearCloudEnv(t)
	const (
		keyID  = "AKIAHIDDENKEYID01"
		secret = "hidden/secret+access+key"
		token  = "hiddenSessionToken0123"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echo := fmt.Sprintf("auth=%s token=%s secret=%s url=%s", r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"), secret, r.URL)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		var b bytes.Buffer
		fmt.Fprintf(&b, "<Error><Code>AccessDenied</Code><Message>%s</Message></Error>", xmlEscape(echo))
		w.Write(b.Bytes())
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", token)
	t.Setenv("S3_ENDPOINT", srv.URL)
	repo, err := Open(context.Background(), "s3://bucket/models/m", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	_, err = repo.Versions(context.Background(), nil)
	wantCode(t, err, errFilesystem, "s3://bucket/models/m", "denied", "AccessDenied")
	for _, s := range []string{keyID, secret, token, url.QueryEscape(secret)} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows %q: %v", s, err)
		}
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestGCSEmulator(t *testing.T) {
	clearCloudEnv(t)
	var objs []fakestorage.Object
	for k, v := range emulatorFiles {
		objs = append(objs, fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: k},
			Content:     []byte(v),
		})
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		InitialObjects: objs,
		Scheme:         "http",
		Host:           "127.0.0.1",
		Port:           0,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Run("host:port", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(srv.URL(), "http://"))
		checkEmulatorRepo(t, "gs", "bkt")
	})
	t.Run("URL", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", srv.URL())
		checkEmulatorRepo(t, "gs", "bkt")
	})
}

// TestGCSAccessDenied runs gs:// against a JSON API that refuses every
// request with 403, as GCS answers a caller without storage.objects.list on
// the bucket: the error says access was denied (not that the bucket does not
// exist) and carries the service's message.
func TestGCSAccessDenied(t *testing.T) {
	clearCloudEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":403,"message":"caller does not have storage.objects.list access to the Google Cloud Storage bucket.","errors":[{"reason":"forbidden"}]}}`)
	}))
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL)
	repo, err := Open(context.Background(), "gs://private/models/m", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	_, err = repo.Versions(context.Background(), nil)
	wantCode(t, err, errFilesystem, "gs://private/models/m", `access to bucket "private" denied`, "storage.objects.list access")
}
