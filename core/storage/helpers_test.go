package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/ovmsgo/ovms/core/apierr"
)

// writeTree creates files (slash paths -> contents) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns the files under dir (slash paths -> contents).
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// entries lists the names in dir, sorted ("" when dir is missing).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// wantCode fails unless err is an *apierr.Error of code c whose message
// contains every part.
func wantCode(t *testing.T, err error, c apierr.Code, parts ...string) {
	t.Helper()
	if !apierr.Is(err, c) {
		t.Fatalf("error %v (%T): want code %d (%s)", err, err, c, c.Message())
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err.Error(), p)
		}
	}
}

// testLog returns a logger entry and the hook that records its entries.
func testLog() (*logrus.Entry, *logtest.Hook) {
	l, hook := logtest.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	return logrus.NewEntry(l), hook
}

// skips records the calls of a skipped callback.
type skips map[string]string

func (s skips) fn(name, reason string) { s[name] = reason }

// fakeStore is an in-memory store.
type fakeStore struct {
	files   map[string]string // key -> contents
	sizes   map[string]int64  // listed size overrides
	listErr error
	kindOf  errKind
	openErr error
	// wrap, when set, wraps the readers open returns.
	wrap   func(key string, r io.ReadCloser) io.ReadCloser
	closed bool
}

func (f *fakeStore) list(_ context.Context, prefix string, recursive bool) ([]string, []object, error) {
	if f.listErr != nil {
		return nil, nil, f.listErr
	}
	seen := map[string]bool{}
	var dirs []string
	var files []object
	keys := make([]string, 0, len(f.files))
	for k := range f.files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		if i := strings.Index(rest, "/"); i >= 0 && !recursive {
			if d := rest[:i]; !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
			continue
		}
		size := int64(len(f.files[k]))
		if s, ok := f.sizes[k]; ok {
			size = s
		}
		files = append(files, object{key: k, size: size})
	}
	return dirs, files, nil
}

func (f *fakeStore) open(_ context.Context, key string) (io.ReadCloser, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	c, ok := f.files[key]
	if !ok {
		return nil, errors.New("no such key " + key)
	}
	var r io.ReadCloser = io.NopCloser(strings.NewReader(c))
	if f.wrap != nil {
		r = f.wrap(key, r)
	}
	return r, nil
}

func (f *fakeStore) kind(error) errKind { return f.kindOf }
func (f *fakeStore) close() error       { f.closed = true; return nil }

// fakeRepo is a remote repository over st at s3://bucket/models/m.
func fakeRepo(t *testing.T, st store) (*remoteRepo, string) {
	t.Helper()
	loc, err := parseLocation("s3://bucket/models/m")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	log, _ := testLog()
	return newRemote(st, loc, cache, log), cache
}

// wrapStore wraps the readers of a store.
type wrapStore struct {
	store
	wrap func(key string, r io.ReadCloser) io.ReadCloser
}

func (w wrapStore) open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := w.store.open(ctx, key)
	if err != nil {
		return nil, err
	}
	return w.wrap(key, r), nil
}

// readCloser joins a reader and a closer.
type readCloser struct {
	io.Reader
	io.Closer
}

// cloudEnv are the variables the stores read; tests clear them so that the
// developer's own configuration does not leak in.
var cloudEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT",
	"GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST",
	"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
	"AZURE_STORAGE_DOMAIN", "AZURE_STORAGE_PROTOCOL", "AZURE_STORAGE_IS_LOCAL_EMULATOR",
}

func clearCloudEnv(t *testing.T) {
	t.Helper()
	for _, k := range cloudEnv {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// writeFile writes a temporary file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
