package storageservers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/directory"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/file"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/fileerror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/share"
)

// The tests here run the real Azure file share SDK (the client ovms's
// azfs:// store uses) against the server: what the SDK sends passes the
// Shared Key check and what the server answers parses.

func azureFilesForTest(t *testing.T, opts AzureFilesOptions) *AzureFiles {
	t.Helper()
	var s *AzureFiles
	start(t, "azure files", func() (Server, error) {
		var err error
		s, err = StartAzureFiles(opts)
		return s, err
	})
	return s
}

// recorder is an HTTP transport that keeps a copy of every request it
// sends (after the SDK signed it).
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rc *recorder) Do(r *http.Request) (*http.Response, error) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Clone(context.Background()))
	rc.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (rc *recorder) last() *http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.reqs[len(rc.reqs)-1]
}

// shareClient is an SDK client of share, authorized with key (the
// server's if empty), sending through tr if not nil, without retries.
func (s *AzureFiles) shareClient(t *testing.T, shareName, key string, tr policy.Transporter) *share.Client {
	t.Helper()
	if key == "" {
		key = s.Key()
	}
	cred, err := share.NewSharedKeyCredential(s.Account(), key)
	if err != nil {
		t.Fatal(err)
	}
	opts := &share.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
	if tr != nil {
		opts.Transport = tr
	}
	c, err := share.NewClientWithSharedKeyCredential(s.Endpoint()+"/"+shareName, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sdkClient is the client the lister methods use (the connection string,
// as ovms reads it).
func (s *AzureFiles) sdkClient(bucket string) (*share.Client, error) {
	return share.NewClientFromConnectionString(s.ConnectionString(), bucket, nil)
}

// dirOf is the SDK client of folder p ("" or "a/b") of c.
func dirOf(c *share.Client, p string) *directory.Client {
	d := c.NewRootDirectoryClient()
	for _, seg := range strings.Split(p, "/") {
		if seg != "" {
			d = d.NewSubdirectoryClient(seg)
		}
	}
	return d
}

// list walks the share with the SDK (List Directories and Files, every
// page) and returns the files whose paths start with prefix.
func (s *AzureFiles) list(ctx context.Context, bucket, prefix string) ([]string, error) {
	c, err := s.sdkClient(bucket)
	if err != nil {
		return nil, err
	}
	var keys []string
	queue := []string{""}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		pager := dirOf(c, p).NewListFilesAndDirectoriesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("azure files list %s/%s: %w", bucket, p, err)
			}
			for _, d := range page.Segment.Directories {
				queue = append(queue, path.Join(p, *d.Name))
			}
			for _, f := range page.Segment.Files {
				if k := path.Join(p, *f.Name); strings.HasPrefix(k, prefix) {
					keys = append(keys, k)
				}
			}
		}
	}
	return keys, nil
}

// get downloads bucket/key with the SDK.
func (s *AzureFiles) get(ctx context.Context, bucket, key string) ([]byte, error) {
	c, err := s.sdkClient(bucket)
	if err != nil {
		return nil, err
	}
	dir, name := path.Split(key)
	resp, err := dirOf(c, dir).NewFileClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("azure files get %s/%s: %w", bucket, key, err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestAzureFiles(t *testing.T) {
	s := azureFilesForTest(t, AzureFilesOptions{PageSize: 2})
	exercise(t, s, "azfs")
	if env := s.Env(); len(env) != 1 || !strings.HasPrefix(env[0], "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=ovmsfiles;") ||
		!strings.Contains(env[0], ";FileEndpoint=http://127.0.0.1:") {
		t.Errorf("Env() = %q", env)
	}
	// Names that need escaping in the URL (and so in the signed path).
	ctx := context.Background()
	odd := "a dir/ü+%#&=?.bin"
	if err := s.Put(ctx, "models", odd, []byte("odd")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.get(ctx, "models", odd); err != nil || string(got) != "odd" {
		t.Errorf("get %q = %q, %v", odd, got, err)
	}
	if keys, err := s.list(ctx, "models", "a dir/"); err != nil || !slices.Equal(keys, []string{odd}) {
		t.Errorf("list a dir/ = %q, %v", keys, err)
	}
}

// TestAzureFilesListPaging lists a folder of seven entries one page at a
// time: the server's page size, a smaller maxresults, and a prefix.
func TestAzureFilesListPaging(t *testing.T) {
	s := azureFilesForTest(t, AzureFilesOptions{PageSize: 2})
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "sh"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"d/a", "d/b/x", "d/c", "d/d/y", "d/e", "d/f", "d/g"} {
		if err := s.Put(ctx, "sh", k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MkDir("sh", "d/h"); err != nil {
		t.Fatal(err)
	}
	c := s.shareClient(t, "sh", "", nil)
	pages := func(opts *directory.ListFilesAndDirectoriesOptions) (names []string, n int) {
		t.Helper()
		pager := dirOf(c, "d").NewListFilesAndDirectoriesPager(opts)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n++
			for _, d := range page.Segment.Directories {
				names = append(names, *d.Name+"/")
			}
			for _, f := range page.Segment.Files {
				if f.Properties == nil || f.Properties.ContentLength == nil || *f.Properties.ContentLength != int64(len("d/"+*f.Name)) {
					t.Errorf("file %s: listed properties %+v", *f.Name, f.Properties)
				}
				names = append(names, *f.Name)
			}
		}
		slices.Sort(names)
		return names, n
	}
	all := []string{"a", "b/", "c", "d/", "e", "f", "g", "h/"}
	if got, n := pages(nil); !slices.Equal(got, all) || n != 4 {
		t.Errorf("listed %q in %d pages, want %q in 4", got, n, all)
	}
	if got, n := pages(&directory.ListFilesAndDirectoriesOptions{MaxResults: to.Ptr(int32(1))}); !slices.Equal(got, all) || n != 8 {
		t.Errorf("maxresults 1: listed %q in %d pages, want 8", got, n)
	}
	if got, n := pages(&directory.ListFilesAndDirectoriesOptions{Prefix: to.Ptr("d")}); !slices.Equal(got, []string{"d/"}) || n != 1 {
		t.Errorf("prefix d: listed %q in %d pages", got, n)
	}
	markers := 0
	for _, r := range s.Requests() {
		if strings.Contains(r.Query, "marker=") {
			markers++
		}
	}
	if markers != 3+7 {
		t.Errorf("%d requests carried a marker, want 10", markers)
	}
	// The share root lists too (the share's URL names it).
	if got, err := s.list(ctx, "sh", ""); err != nil || len(got) != 7 {
		t.Errorf("walk from the root: %q, %v", got, err)
	}
	_, err := dirOf(c, "d").NewListFilesAndDirectoriesPager(&directory.ListFilesAndDirectoriesOptions{MaxResults: to.Ptr(int32(0))}).NextPage(ctx)
	if !fileerror.HasCode(err, "OutOfRangeQueryParameterValue") {
		t.Errorf("maxresults 0: %v", err)
	}
}

// TestAzureFilesGetFile reads a file whole, by ranges (x-ms-range, Range,
// both) and its properties, and checks the missing cases' error codes.
func TestAzureFilesGetFile(t *testing.T) {
	s := azureFilesForTest(t, AzureFilesOptions{})
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "sh"); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := s.Put(ctx, "sh", "m/1/model.onnx", data); err != nil {
		t.Fatal(err)
	}
	c := s.shareClient(t, "sh", "", nil)
	f := dirOf(c, "m/1").NewFileClient("model.onnx")
	read := func(rg file.HTTPRange) ([]byte, file.DownloadStreamResponse) {
		t.Helper()
		resp, err := f.DownloadStream(ctx, &file.DownloadStreamOptions{Range: rg})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b, resp
	}
	if b, resp := read(file.HTTPRange{}); !bytes.Equal(b, data) || resp.ContentRange != nil || *resp.ContentLength != 10000 || resp.ETag == nil {
		t.Errorf("whole file: %d bytes, range %v", len(b), resp.ContentRange)
	}
	if b, resp := read(file.HTTPRange{Offset: 995, Count: 10}); string(b) != "5678901234" || *resp.ContentRange != "bytes 995-1004/10000" {
		t.Errorf("bytes=995-1004: %q, %v", b, *resp.ContentRange)
	}
	if b, resp := read(file.HTTPRange{Offset: 9990}); string(b) != "0123456789" || *resp.ContentRange != "bytes 9990-9999/10000" {
		t.Errorf("bytes=9990-: %q, %v", b, *resp.ContentRange)
	}
	_, err := f.DownloadStream(ctx, &file.DownloadStreamOptions{Range: file.HTTPRange{Offset: 10000}})
	if !fileerror.HasCode(err, fileerror.InvalidRange) {
		t.Errorf("a range past the end: %v", err)
	}
	resp, err := f.DownloadStream(ctx, &file.DownloadStreamOptions{Range: file.HTTPRange{Offset: 10, Count: 5}, RangeGetContentMD5: to.Ptr(true)})
	if err != nil || len(resp.ContentMD5) != 16 {
		t.Errorf("range MD5: %v, %x", err, resp.ContentMD5)
	}
	props, err := f.GetProperties(ctx, nil)
	if err != nil || *props.ContentLength != 10000 || props.ETag == nil || props.LastModified == nil {
		t.Errorf("file properties: %+v, %v", props, err)
	}
	if _, err := dirOf(c, "m/1").GetProperties(ctx, nil); err != nil {
		t.Errorf("directory properties: %v", err)
	}
	if _, err := c.GetProperties(ctx, nil); err != nil {
		t.Errorf("share properties: %v", err)
	}

	// Range and x-ms-range from a raw request: x-ms-range wins.
	raw := func(set func(h http.Header)) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.Endpoint()+"/sh/m/1/model.onnx", nil)
		req.Header.Set("x-ms-version", azFilesVersion)
		req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
		set(req.Header)
		s.sign(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, b := raw(func(h http.Header) { h.Set("Range", "bytes=3-5") }); resp.StatusCode != 206 || b != "345" {
		t.Errorf("Range: %d %q", resp.StatusCode, b)
	}
	if resp, b := raw(func(h http.Header) { h.Set("Range", "bytes=3-5"); h.Set("x-ms-range", "bytes=7-8") }); resp.StatusCode != 206 || b != "78" {
		t.Errorf("Range and x-ms-range: %d %q", resp.StatusCode, b)
	}
	if resp, _ := raw(func(h http.Header) { h.Set("x-ms-range", "bytes=9-3") }); resp.StatusCode != 400 || resp.Header.Get("x-ms-error-code") != "InvalidHeaderValue" {
		t.Errorf("bytes=9-3: %d %s", resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}

	for _, c := range []struct {
		share, dir, name string
		code             fileerror.Code
	}{
		{"sh", "m/1", "missing.onnx", fileerror.ResourceNotFound},
		{"sh", "m/9", "model.onnx", fileerror.ParentNotFound},
		{"nope", "m/1", "model.onnx", fileerror.ShareNotFound},
	} {
		f := dirOf(s.shareClient(t, c.share, "", nil), c.dir).NewFileClient(c.name)
		if _, err := f.DownloadStream(ctx, nil); !fileerror.HasCode(err, c.code) {
			t.Errorf("get %s/%s/%s: %v, want %s", c.share, c.dir, c.name, err, c.code)
		}
		if _, err := f.GetProperties(ctx, nil); !fileerror.HasCode(err, c.code) { // HEAD: the code is in x-ms-error-code
			t.Errorf("properties of %s/%s/%s: %v, want %s", c.share, c.dir, c.name, err, c.code)
		}
	}
	_, err = dirOf(c, "m/9").NewListFilesAndDirectoriesPager(nil).NextPage(ctx)
	if !fileerror.HasCode(err, fileerror.ResourceNotFound) {
		t.Errorf("listing a missing folder: %v", err)
	}
}

// TestAzureFilesCutDownload closes the connection after part of a file's
// body: a plain read fails, the SDK's retry reader resumes with a range
// request and gets every byte.
func TestAzureFilesCutDownload(t *testing.T) {
	s := azureFilesForTest(t, AzureFilesOptions{})
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "sh"); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("abcdefgh"), 8192)
	if err := s.Put(ctx, "sh", "v/1/w.bin", data); err != nil {
		t.Fatal(err)
	}
	f := dirOf(s.shareClient(t, "sh", "", nil), "v/1").NewFileClient("w.bin")

	s.CutDownload("sh", "v/1/w.bin", 1000, 1, nil)
	resp, err := f.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 1000 {
		t.Fatalf("a cut body read %d bytes and %v, want 1000 and unexpected EOF", len(b), err)
	}

	s.CutDownload("sh", "v/1/w.bin", 30000, 2, nil)
	resp, err = f.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.NewRetryReader(ctx, nil)
	b, err = io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("through the retry reader: %d bytes, %v", len(b), err)
	}
	var got []string
	for _, q := range s.Requests()[1:] {
		got = append(got, fmt.Sprintf("%d %s cut=%v", q.Status, q.Range, q.Cut))
	}
	want := []string{"200  cut=true", "206 bytes=30000- cut=true", "206 bytes=60000- cut=false"}
	if !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}
