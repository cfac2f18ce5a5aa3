package gcsjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/option"
	storagev1 "google.golang.org/api/storage/v1"
)

// The tests run the driver against fake-gcs-server (in process, on a
// loopback httptest server), or against small handlers where the emulator
// cannot produce an answer (403, 503, a cut connection).

// manyFiles is more than one listing page (defaultPageSize).
const manyFiles = defaultPageSize + 234

// recorder wraps a handler and keeps the requests it saw.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

// requests returns the recorded requests whose URL query has key.
func (r *recorder) requests(key string) []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Request
	for _, q := range r.reqs {
		if q.URL.Query().Has(key) {
			out = append(out, q)
		}
	}
	return out
}

// startFake starts fake-gcs-server holding objs in bucket "bkt", wrapped
// by wrap (nil: none), and returns it with the driver's bucket.
func startFake(t *testing.T, objs map[string][]byte, wrap func(http.Handler) http.Handler) (*fakestorage.Server, *blob.Bucket) {
	t.Helper()
	var initial []fakestorage.Object
	for k, v := range objs {
		initial = append(initial, fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: k, ContentType: "application/octet-stream"},
			Content:     v,
		})
	}
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{InitialObjects: initial, NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bkt"})
	h := fake.HTTPHandler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); fake.Stop() })
	return fake, openAt(t, srv.URL, "bkt")
}

// openAt opens bucket name of the JSON API at url, without credentials and
// with quick retries.
func openAt(t *testing.T, url, name string) *blob.Bucket {
	t.Helper()
	svc, err := storagev1.NewService(context.Background(), option.WithoutAuthentication(), option.WithEndpoint(url+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	drv := newBucket(svc, name)
	drv.retry.backoff.Initial, drv.retry.backoff.Max = time.Millisecond, 5*time.Millisecond
	b := blob.NewBucket(drv)
	t.Cleanup(func() { b.Close() })
	return b
}

// listAll lists prefix with delimiter through the portable iterator.
func listAll(t *testing.T, b *blob.Bucket, prefix, delim string) (dirs []string, files map[string]int64, order []string) {
	t.Helper()
	files = map[string]int64{}
	it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: delim})
	for {
		o, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return dirs, files, order
		}
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, o.Key)
		if o.IsDir {
			dirs = append(dirs, o.Key)
			continue
		}
		if _, dup := files[o.Key]; dup {
			t.Errorf("%s listed twice", o.Key)
		}
		files[o.Key] = o.Size
	}
}

func TestListFoldersAndPages(t *testing.T) {
	objs := map[string][]byte{
		"models/m/1/model.onnx":     []byte("onnx"),
		"models/m/2/model.bin":      bytes.Repeat([]byte("b"), 70000),
		"models/m/2/sub/vocab.txt":  []byte("a b c"),
		"models/m/readme.txt":       []byte("top"),
		"models/other/1/model.onnx": []byte("x"),
	}
	for i := range manyFiles {
		objs[fmt.Sprintf("models/m/many/f%05d", i)] = []byte(strings.Repeat("x", i%7))
	}
	var rec *recorder
	_, b := startFake(t, objs, func(h http.Handler) http.Handler { rec = &recorder{h: h}; return rec })

	// One level: folders and the files beside them, in key order.
	dirs, files, order := listAll(t, b, "models/m/", "/")
	if strings.Join(dirs, ",") != "models/m/1/,models/m/2/,models/m/many/" || len(files) != 1 || files["models/m/readme.txt"] != 3 {
		t.Errorf("delimited listing: dirs %v, files %v", dirs, files)
	}
	if strings.Join(order, ",") != "models/m/1/,models/m/2/,models/m/many/,models/m/readme.txt" {
		t.Errorf("delimited listing out of order: %v", order)
	}

	// Everything under a prefix: more objects than one page.
	_, files, order = listAll(t, b, "models/m/", "")
	if len(files) != manyFiles+4 || files["models/m/2/model.bin"] != 70000 || files["models/m/many/f00006"] != 6 {
		t.Errorf("recursive listing: %d files (want %d), model.bin %d bytes", len(files), manyFiles+4, files["models/m/2/model.bin"])
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Fatalf("recursive listing out of order at %d: %q then %q", i, order[i-1], order[i])
		}
	}
	if paged := rec.requests("pageToken"); len(paged) == 0 {
		t.Error("the recursive listing fit one request: paging untested")
	}

	// Explicit small pages through ListPage carry the token.
	var n int
	for tok := blob.FirstPageToken; tok != nil; {
		var page []*blob.ListObject
		var err error
		page, tok, err = b.ListPage(context.Background(), tok, 100, &blob.ListOptions{Prefix: "models/m/many/"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 100 {
			t.Fatalf("page of %d objects, asked for 100", len(page))
		}
		n += len(page)
	}
	if n != manyFiles {
		t.Errorf("pages held %d objects, want %d", n, manyFiles)
	}
}

func TestRangeRead(t *testing.T) {
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	_, b := startFake(t, map[string][]byte{"m/1/model.bin": data}, nil)
	ctx := context.Background()
	read := func(off, n int64) ([]byte, *blob.Reader) {
		t.Helper()
		r, err := b.NewRangeReader(ctx, "m/1/model.bin", off, n, nil)
		if err != nil {
			t.Fatalf("range %d+%d: %v", off, n, err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("range %d+%d: %v", off, n, err)
		}
		return got, r
	}
	for _, c := range []struct{ off, n, want0, want1 int64 }{
		{0, -1, 0, 70000},
		{1000, 5000, 1000, 6000},
		{69990, -1, 69990, 70000},
		{69990, 100, 69990, 70000}, // past the end: what there is
		{70000, -1, 0, 0},          // at the end: nothing
		{500, 0, 0, 0},             // no bytes
	} {
		got, r := read(c.off, c.n)
		if !bytes.Equal(got, data[c.want0:c.want1]) {
			t.Errorf("range %d+%d: %d bytes, want bytes [%d,%d)", c.off, c.n, len(got), c.want0, c.want1)
		}
		if r.Size() != int64(len(data)) || r.ContentType() == "" {
			t.Errorf("range %d+%d: size %d, content type %q", c.off, c.n, r.Size(), r.ContentType())
		}
	}
	a, err := b.Attributes(ctx, "m/1/model.bin")
	if err != nil || a.Size != 70000 || len(a.MD5) != 16 || a.ModTime.IsZero() {
		t.Errorf("attributes %+v, %v", a, err)
	}
}

func TestNotFound(t *testing.T) {
	_, b := startFake(t, map[string][]byte{"m/1/x": []byte("x")}, nil)
	ctx := context.Background()
	if _, err := b.NewReader(ctx, "m/1/missing", nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("missing object: code %v, err %v", gcerrors.Code(err), err)
	}
	// Another bucket of the same server, through the bucket's own service.
	var svc *storagev1.Service
	if !b.As(&svc) {
		t.Fatal("bucket does not expose its service")
	}
	missing := OpenBucket(svc, "no-such-bucket")
	defer missing.Close()
	_, err := missing.List(&blob.ListOptions{Prefix: "m/", Delimiter: "/"}).Next(ctx)
	if gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("missing bucket, list: code %v, err %v", gcerrors.Code(err), err)
	}
	if _, err := missing.NewReader(ctx, "m/1/x", nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("missing bucket, read: code %v, err %v", gcerrors.Code(err), err)
	}
}

// deniedHandler answers every JSON API request as GCS answers a caller
// without permission.
func deniedHandler(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/storage/v1/b/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket.","errors":[{"message":"denied","domain":"global","reason":"forbidden"}]}}`, code)
	})
}

func TestAccessDenied(t *testing.T) {
	for _, code := range []int{http.StatusForbidden, http.StatusUnauthorized} {
		srv := httptest.NewServer(deniedHandler(code))
		b := openAt(t, srv.URL, "private")
		ctx := context.Background()
		_, err := b.List(&blob.ListOptions{Prefix: "m/", Delimiter: "/"}).Next(ctx)
		if gcerrors.Code(err) != gcerrors.PermissionDenied || !strings.Contains(err.Error(), "does not have storage.objects.list access") {
			t.Errorf("HTTP %d, list: code %v, err %v", code, gcerrors.Code(err), err)
		}
		if _, err := b.NewReader(ctx, "m/1/x", nil); gcerrors.Code(err) != gcerrors.PermissionDenied {
			t.Errorf("HTTP %d, read: code %v, err %v", code, gcerrors.Code(err), err)
		}
		srv.Close()
	}
}

func TestTransientErrorsRetried(t *testing.T) {
	var mu sync.Mutex
	failures := 2
	_, b := startFake(t, map[string][]byte{"m/1/x": []byte("x")}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			fail := failures > 0
			failures--
			mu.Unlock()
			if fail {
				http.Error(w, `{"error":{"code":503,"message":"backend unavailable"}}`, http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, files, _ := listAll(t, b, "m/", "")
	if len(files) != 1 {
		t.Errorf("after two 503s: %v", files)
	}

	// A service that stays unavailable fails after the policy's attempts.
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	down := openAt(t, srv.URL, "bkt")
	_, err := down.List(&blob.ListOptions{}).Next(context.Background())
	if gcerrors.Code(err) != gcerrors.Internal || calls != defaultRetry.attempts {
		t.Errorf("always 503: code %v after %d calls (want %d): %v", gcerrors.Code(err), calls, defaultRetry.attempts, err)
	}
}

// cutAfter makes the first media download of the handler stop after n body
// bytes by dropping the connection; before it does, it runs then (nil:
// nothing).
func cutAfter(n int, then func()) func(http.Handler) http.Handler {
	var once sync.Once
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cut := false
			if r.URL.Query().Get("alt") == "media" {
				once.Do(func() { cut = true })
			}
			if !cut {
				h.ServeHTTP(w, r)
				return
			}
			h.ServeHTTP(&cutWriter{ResponseWriter: w, left: n, then: then}, r)
		})
	}
}

// cutWriter passes left bytes, then aborts the response.
type cutWriter struct {
	http.ResponseWriter
	left int
	then func()
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) <= c.left {
		c.left -= len(p)
		return c.ResponseWriter.Write(p)
	}
	c.ResponseWriter.Write(p[:c.left])
	c.ResponseWriter.(http.Flusher).Flush()
	if c.then != nil {
		c.then()
	}
	panic(http.ErrAbortHandler)
}

func TestReadResumesAfterDroppedConnection(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	var rec *recorder
	_, b := startFake(t, map[string][]byte{"m/1/model.bin": data}, func(h http.Handler) http.Handler {
		rec = &recorder{h: h}
		return cutAfter(50000, nil)(rec)
	})
	r, err := b.NewReader(context.Background(), "m/1/model.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes, equal %v: %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	media := rec.requests("alt")
	if len(media) != 2 {
		t.Fatalf("%d media requests, want 2 (the first cut)", len(media))
	}
	resumed := media[1]
	if rng := resumed.Header.Get("Range"); rng != "bytes=50000-" || resumed.URL.Query().Get("generation") == "" {
		t.Errorf("resumed with Range %q, generation %q; want bytes=50000- pinned to the generation", rng, resumed.URL.Query().Get("generation"))
	}
}

func TestReadFailsWhenObjectReplacedMidRead(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 100000)
	var fake *fakestorage.Server
	replace := func() {
		fake.CreateObject(fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: "m/1/model.bin"},
			Content:     bytes.Repeat([]byte("b"), 100000),
		})
	}
	fake, b := startFake(t, map[string][]byte{"m/1/model.bin": data}, cutAfter(30000, replace))
	r, err := b.NewReader(context.Background(), "m/1/model.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err == nil || bytes.Contains(got, []byte("b")) {
		t.Fatalf("read %d bytes of a replaced object without error (mixed: %v)", len(got), bytes.Contains(got, []byte("b")))
	}
	if gcerrors.Code(err) != gcerrors.NotFound || !strings.Contains(err.Error(), "resuming") {
		t.Errorf("code %v: %v", gcerrors.Code(err), err)
	}
}

func TestWritesUnimplemented(t *testing.T) {
	_, b := startFake(t, nil, nil)
	ctx := context.Background()
	if err := b.WriteAll(ctx, "k", []byte("x"), nil); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("write: %v", err)
	}
	if err := b.Delete(ctx, "k"); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("delete: %v", err)
	}
	if err := b.Copy(ctx, "a", "b", nil); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("copy: %v", err)
	}
}

// TestReadResumesAfterHTTP2StreamReset: over HTTP/2 (as Google's endpoint
// is reached) a download cut by the server arrives as a stream error
// (RST_STREAM INTERNAL_ERROR), not as a cut connection; the read resumes
// all the same, as Google's storage client's does.
func TestReadResumesAfterHTTP2StreamReset(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, InitialObjects: []fakestorage.Object{{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: "m/1/model.bin", ContentType: "application/octet-stream"},
		Content:     data,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{h: fake.HTTPHandler()}
	srv := httptest.NewUnstartedServer(cutAfter(50000, nil)(rec))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); fake.Stop() })
	svc, err := storagev1.NewService(context.Background(), option.WithHTTPClient(srv.Client()), option.WithEndpoint(srv.URL+"/storage/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	drv := newBucket(svc, "bkt")
	drv.retry.backoff.Initial, drv.retry.backoff.Max = time.Millisecond, 5*time.Millisecond
	b := blob.NewBucket(drv)
	defer b.Close()

	r, err := b.NewReader(context.Background(), "m/1/model.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes, equal %v: %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	media := rec.requests("alt")
	if len(media) != 2 || media[0].ProtoMajor != 2 {
		t.Fatalf("%d media requests (HTTP/%d), want 2 over HTTP/2 (the first cut)", len(media), media[0].ProtoMajor)
	}
	if rng := media[1].Header.Get("Range"); rng != "bytes=50000-" {
		t.Errorf("resumed with Range %q, want bytes=50000-", rng)
	}
}
