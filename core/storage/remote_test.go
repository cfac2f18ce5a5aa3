package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
)

// fileRepo writes files under a fresh base folder and opens it as file://.
func fileRepo(t *testing.T, files map[string]string) (repo *remoteRepo, base, url, cache string) {
	t.Helper()
	base = filepath.Join(t.TempDir(), "models", "m")
	writeTree(t, base, files)
	cache = filepath.Join(t.TempDir(), "cache") // created by Open
	url = "file://" + filepath.ToSlash(base)
	r, err := Open(context.Background(), url, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r.(*remoteRepo), base, url, cache
}

var modelFiles = map[string]string{
	"1/model.onnx":            "version one",
	"2/model.xml":             "<xml/>",
	"2/model.bin":             strings.Repeat("w", 100000),
	"2/sub/deep/tokenizer.js": "{}",
	"x/model.onnx":            "not a version",
	"0/model.onnx":            "not a version",
	"readme.txt":              "a file at the top",
}

func TestFileVersions(t *testing.T) {
	repo, _, url, cache := fileRepo(t, modelFiles)
	if IsRemote(url) {
		t.Error("file:// is not a cloud URL")
	}
	if st, err := os.Stat(cache); err != nil || !st.IsDir() {
		t.Errorf("Open did not create the cache folder: %v", err)
	}
	s := skips{}
	got, err := repo.Versions(context.Background(), s.fn)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != url+"/1" || got[2] != url+"/2" {
		t.Errorf("versions %v", got)
	}
	if s["x"] != reasonNotNumber || s["0"] != reasonNotPositive || len(s) != 2 {
		t.Errorf("skipped %v", s)
	}
}

func TestFileMissingBasePath(t *testing.T) {
	url := "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "missing"))
	repo, err := Open(context.Background(), url, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Versions(context.Background(), nil)
	wantCode(t, err, apierr.PathInvalid, url)
	_, err = repo.Fetch(context.Background(), 1)
	wantCode(t, err, apierr.PathInvalid, url)
}

func TestFetchRelease(t *testing.T) {
	repo, base, url, cache := fileRepo(t, modelFiles)
	p, err := repo.Fetch(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, cacheKey(url), "2")
	if p != want {
		t.Fatalf("Fetch gave %q, want %q", p, want)
	}
	got := readTree(t, p)
	exp := readTree(t, filepath.Join(base, "2"))
	if len(got) != 3 || len(got) != len(exp) {
		t.Fatalf("downloaded %v, want %v", keys(got), keys(exp))
	}
	for k, v := range exp {
		if got[k] != v {
			t.Errorf("%s: downloaded %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
	// Only the version folder is left: no temporary folders.
	if e := entries(t, filepath.Join(cache, cacheKey(url))); len(e) != 1 || e[0] != "2" {
		t.Errorf("cache folder holds %v", e)
	}
	// A missing version.
	_, err = repo.Fetch(context.Background(), 5)
	wantCode(t, err, apierr.PathInvalid, url, "version 5")

	if err := repo.Release(2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("Release left %s (%v)", p, err)
	}
	if e := entries(t, cache); len(e) != 0 {
		t.Errorf("Release left %v in the cache", e)
	}
	if err := repo.Release(2); err != nil {
		t.Errorf("a second Release: %v", err)
	}
	// The remote files are untouched.
	if readTree(t, base)["2/model.xml"] != "<xml/>" {
		t.Error("the source changed")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFetchReplacesCache(t *testing.T) {
	repo, base, _, _ := fileRepo(t, modelFiles)
	p, err := repo.Fetch(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, p, map[string]string{"stale.txt": "left by an earlier download"})
	writeTree(t, base, map[string]string{"1/model.onnx": "version one, updated"})
	p2, err := repo.Fetch(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if p2 != p {
		t.Errorf("second Fetch at %q, first at %q", p2, p)
	}
	got := readTree(t, p2)
	if len(got) != 1 || got["model.onnx"] != "version one, updated" {
		t.Errorf("after a second Fetch the folder holds %v", got)
	}
	if e := entries(t, filepath.Dir(p)); len(e) != 1 {
		t.Errorf("cache folder holds %v", e)
	}
}

func TestFetchIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(r io.ReadCloser) io.ReadCloser
	}{
		{"short read", func(r io.ReadCloser) io.ReadCloser {
			return readCloser{io.LimitReader(r, 10), r}
		}},
		{"long read", func(r io.ReadCloser) io.ReadCloser {
			return readCloser{io.MultiReader(r, strings.NewReader("extra")), r}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, _, url, cache := fileRepo(t, modelFiles)
			// A complete copy from an earlier Fetch stays when a new
			// download fails.
			if _, err := repo.Fetch(context.Background(), 2); err != nil {
				t.Fatal(err)
			}
			inner := repo.st
			repo.st = wrapStore{inner, func(key string, r io.ReadCloser) io.ReadCloser {
				if strings.HasSuffix(key, "model.bin") {
					return tc.wrap(r)
				}
				return r
			}}
			_, err := repo.Fetch(context.Background(), 2)
			wantCode(t, err, errFilesystem, url, "model.bin", "listed size is 100000")
			if !errors.Is(err, errIncomplete) {
				t.Errorf("error %v is not errIncomplete", err)
			}
			dir := filepath.Join(cache, cacheKey(url))
			if e := entries(t, dir); len(e) != 1 || e[0] != "2" {
				t.Errorf("after a failed download the cache holds %v", e)
			}
			if got := readTree(t, filepath.Join(dir, "2")); len(got["model.bin"]) != 100000 {
				t.Error("the earlier complete copy was damaged")
			}
			// Without the earlier copy nothing is left.
			if err := repo.Release(2); err != nil {
				t.Fatal(err)
			}
			_, err = repo.Fetch(context.Background(), 2)
			wantCode(t, err, errFilesystem)
			if e := entries(t, cache); len(e) != 0 {
				t.Errorf("after a failed download the cache holds %v", e)
			}
		})
	}
}

func TestFetchReadError(t *testing.T) {
	st := &fakeStore{files: map[string]string{"models/m/1/a": "x"}, openErr: errors.New("connection reset")}
	repo, cache := fakeRepo(t, st)
	_, err := repo.Fetch(context.Background(), 1)
	wantCode(t, err, errFilesystem, "s3://bucket/models/m", "models/m/1/a", "connection reset")
	if e := entries(t, filepath.Join(cache, cacheKey("s3://bucket/models/m"))); len(e) != 0 {
		t.Errorf("cache holds %v", e)
	}
}

func TestFetchNoFiles(t *testing.T) {
	st := &fakeStore{files: map[string]string{"models/m/1/": "", "models/m/2/a": "x"}}
	repo, _ := fakeRepo(t, st)
	_, err := repo.Fetch(context.Background(), 1)
	wantCode(t, err, errFilesystem, "s3://bucket/models/m", "version 1 has no files")
}

func TestFetchRefusesEscapingKeys(t *testing.T) {
	st := &fakeStore{files: map[string]string{"models/m/1/../../../../evil": "x", "models/m/1/ok": "y"}}
	repo, cache := fakeRepo(t, st)
	_, err := repo.Fetch(context.Background(), 1)
	wantCode(t, err, errFilesystem, "outside the version folder")
	if e := entries(t, filepath.Dir(cache)); len(e) != 1 {
		t.Errorf("something was written next to the cache: %v", e)
	}
}

func TestFetchFolderMarkers(t *testing.T) {
	st := &fakeStore{files: map[string]string{
		"models/m/":          "",
		"models/m/1/":        "",
		"models/m/1/sub":     "", // a folder listed as an empty blob (Azure HNS)
		"models/m/1/sub/a":   "weights",
		"models/m/1/empty":   "", // an empty file is kept
		"models/m/1/sub2/":   "",
		"models/m/1/model.x": "m",
	}}
	repo, _ := fakeRepo(t, st)
	p, err := repo.Fetch(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	got := readTree(t, p)
	if len(got) != 3 || got["sub/a"] != "weights" || got["model.x"] != "m" || got["empty"] != "" {
		t.Errorf("downloaded %v", got)
	}
}

func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		kind  errKind
		code  apierr.Code
		parts []string
	}{
		{errRootMissing, apierr.PathInvalid, []string{`bucket "bucket" does not exist`}},
		{errPathMissing, apierr.PathInvalid, []string{`"models/m/" does not exist`}},
		{errDenied, errFilesystem, []string{"access to bucket", "denied", "AccessDenied"}},
		{errOther, errFilesystem, []string{`listing "models/m/" failed`, "AccessDenied"}},
	} {
		st := &fakeStore{listErr: errors.New("AccessDenied: nope"), kindOf: tc.kind}
		repo, _ := fakeRepo(t, st)
		_, err := repo.Versions(context.Background(), nil)
		wantCode(t, err, tc.code, append(tc.parts, "s3://bucket/models/m")...)
		_, err = repo.Fetch(context.Background(), 1)
		wantCode(t, err, tc.code, "s3://bucket/models/m")
		if err := repo.Close(); err != nil || !st.closed {
			t.Errorf("Close: %v, closed %v", err, st.closed)
		}
	}
	// A prefix with nothing under it does not exist.
	repo, _ := fakeRepo(t, &fakeStore{files: map[string]string{"other/1/a": "x"}})
	_, err := repo.Versions(context.Background(), nil)
	wantCode(t, err, apierr.PathInvalid, "s3://bucket/models/m", "nothing under")
}

// slowReader returns one byte per read, after a pause.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	if len(p) > 1 {
		p = p[:1]
	}
	return s.r.Read(p)
}

func TestProgressLogged(t *testing.T) {
	st := &fakeStore{files: map[string]string{"models/m/3/a": "0123456789", "models/m/3/b/c": "abcdefghij"}}
	st.wrap = func(_ string, r io.ReadCloser) io.ReadCloser {
		return readCloser{slowReader{r, 3 * time.Millisecond}, r}
	}
	repo, _ := fakeRepo(t, st)
	log, hook := testLog()
	repo.log = log.WithField("model", "m")
	repo.every = 5 * time.Millisecond
	if _, err := repo.Fetch(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	var progress, done int
	for _, e := range hook.AllEntries() {
		switch e.Message {
		case "downloading model version":
			progress++
			if e.Level != logrus.InfoLevel || e.Data["base_path"] != "s3://bucket/models/m" || e.Data["version"] != int64(3) ||
				e.Data["total"] != int64(20) || e.Data["model"] != "m" {
				t.Errorf("progress entry %v %v", e.Level, e.Data)
			}
			if b, ok := e.Data["bytes"].(int64); !ok || b < 0 || b > 20 {
				t.Errorf("progress bytes %v", e.Data["bytes"])
			}
		case "model version downloaded":
			done++
			if e.Level != logrus.InfoLevel || e.Data["bytes"] != int64(20) || e.Data["files"] != 2 {
				t.Errorf("final entry %v %v", e.Level, e.Data)
			}
		}
	}
	if progress == 0 || done != 1 {
		t.Errorf("%d progress entries and %d final entries", progress, done)
	}

	// A quick download logs no progress, and its summary at debug level.
	hook.Reset()
	repo.every = time.Hour
	st.wrap = nil
	if _, err := repo.Fetch(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	for _, e := range hook.AllEntries() {
		if e.Message == "downloading model version" || e.Level < logrus.DebugLevel {
			t.Errorf("quick download logged %q at %v", e.Message, e.Level)
		}
	}
}

func TestFetchCancelled(t *testing.T) {
	st := &fakeStore{files: map[string]string{"models/m/1/a": strings.Repeat("x", 1000)}}
	ctx, cancel := context.WithCancel(context.Background())
	st.wrap = func(_ string, r io.ReadCloser) io.ReadCloser {
		cancel()
		return readCloser{&ctxReader{ctx, r}, r}
	}
	repo, cache := fakeRepo(t, st)
	_, err := repo.Fetch(ctx, 1)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch after cancel: %v", err)
	}
	if e := entries(t, filepath.Join(cache, cacheKey("s3://bucket/models/m"))); len(e) != 0 {
		t.Errorf("cache holds %v", e)
	}
}

// ctxReader fails once its context is done, as network readers do.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func TestConcurrentFetchRelease(t *testing.T) {
	files := map[string]string{}
	for _, v := range []string{"1", "2", "3"} {
		for _, f := range []string{"a", "b/c", "d", "e", "f"} {
			files["models/m/"+v+"/"+f] = strings.Repeat(v, 1000)
		}
	}
	repo, cache := fakeRepo(t, &fakeStore{files: files})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			n := int64(i%3 + 1)
			if _, err := repo.Fetch(context.Background(), n); err != nil {
				t.Error(err)
			}
			if i%2 == 0 {
				if err := repo.Release(n); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, n := range []int64{1, 2, 3} {
		p, err := repo.Fetch(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		if got := readTree(t, p); len(got) != 5 {
			t.Errorf("version %d holds %v", n, keys(got))
		}
	}
	for _, e := range entries(t, filepath.Join(cache, cacheKey("s3://bucket/models/m"))) {
		if strings.HasPrefix(e, ".") {
			t.Errorf("leftover %s", e)
		}
	}
}

func TestWithoutFolderMarkers(t *testing.T) {
	in := []object{{"p/", 0}, {"p/a/", 0}, {"p/a", 0}, {"p/a/b", 3}, {"p/c", 0}, {"p/d/", 5}}
	got := withoutFolderMarkers(in, "p/")
	if len(got) != 2 || got[0].key != "p/a/b" || got[1].key != "p/c" {
		t.Errorf("got %v", got)
	}
}
