package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/directory"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/file"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/fileerror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/share"
)

// azfsStore is a store over an Azure file share (gocloud has no driver for
// Azure Files): folders are real directories, listed one level at a time.
type azfsStore struct {
	share *share.Client
}

// shareClient builds the Azure file share client of s. It does no network
// I/O.
func (s azSettings) shareClient() (*share.Client, error) {
	switch s.creds {
	case azConnectionString:
		return share.NewClientFromConnectionString(s.connStr, s.root, nil)
	case azSharedKey:
		cred, err := share.NewSharedKeyCredential(s.account, s.key)
		if err != nil {
			return nil, err
		}
		return share.NewClientWithSharedKeyCredential(s.rootURL(), cred, nil)
	default: // azSAS (azSettingsFrom refuses the others for shares)
		return share.NewClientWithNoCredential(s.rootURL(), nil)
	}
}

// openAzfs opens an azfs:// location.
func openAzfs(_ context.Context, loc location, env func(string) string) (store, error) {
	s, err := azSettingsFrom(loc, true, env)
	if err != nil {
		return nil, err
	}
	c, err := s.shareClient()
	if err != nil {
		return nil, fsErr(err, "%s: cannot configure the Azure file share client (%s)", loc.base, s.creds)
	}
	return &azfsStore{share: c}, nil
}

// dir is the client of the folder at p ("" or "a/b/"); each segment is
// escaped on its own.
func (s *azfsStore) dir(p string) *directory.Client {
	d := s.share.NewRootDirectoryClient()
	for _, seg := range strings.Split(p, "/") {
		if seg != "" {
			d = d.NewSubdirectoryClient(seg)
		}
	}
	return d
}

func (s *azfsStore) list(ctx context.Context, prefix string, recursive bool) ([]string, []object, error) {
	if !recursive {
		return s.listDir(ctx, prefix)
	}
	var files []object
	queue := []string{prefix}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		dirs, fs, err := s.listDir(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, fs...)
		for _, d := range dirs {
			queue = append(queue, p+d+"/")
		}
	}
	return nil, files, nil
}

// listDir lists one folder.
func (s *azfsStore) listDir(ctx context.Context, prefix string) ([]string, []object, error) {
	var (
		dirs  []string
		files []object
	)
	d := s.dir(prefix)
	pager := d.NewListFilesAndDirectoriesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		if page.Segment == nil {
			continue
		}
		for _, e := range page.Segment.Directories {
			if e != nil && e.Name != nil {
				dirs = append(dirs, *e.Name)
			}
		}
		for _, f := range page.Segment.Files {
			if f == nil || f.Name == nil {
				continue
			}
			o := object{key: prefix + *f.Name}
			if f.Properties != nil && f.Properties.ContentLength != nil {
				o.size = *f.Properties.ContentLength
			} else {
				props, err := d.NewFileClient(*f.Name).GetProperties(ctx, nil)
				if err != nil {
					return nil, nil, err
				}
				if props.ContentLength != nil {
					o.size = *props.ContentLength
				}
			}
			files = append(files, o)
		}
	}
	return dirs, files, nil
}

// azfsResumes is how many times in a row a download cut by the network is
// resumed without a byte arriving in between.
const azfsResumes = 3

func (s *azfsStore) open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, name := path.Split(key)
	f := s.dir(p).NewFileClient(name)
	resp, err := f.DownloadStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &azfsReader{ctx: ctx, f: f, key: key, body: resp.Body, etag: resp.ETag}, nil
}

// azfsReader reads a file and, when the connection fails mid-body,
// resumes with a range request from the first byte not yet read. Azure
// Files takes no If-Match on Get File (the SDK's retry reader sends
// none), so the resumed answer's ETag is compared with the first one's: a
// file replaced in between fails the read instead of joining two files'
// bytes.
type azfsReader struct {
	ctx      context.Context
	f        *file.Client
	key      string
	body     io.ReadCloser // nil between a failure and the resumed request
	etag     *azcore.ETag  // of the first answer
	off      int64         // bytes read so far
	failures int           // failed reads since the last byte arrived
}

func (r *azfsReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			resp, err := r.f.DownloadStream(r.ctx, &file.DownloadStreamOptions{Range: file.HTTPRange{Offset: r.off}})
			if err != nil {
				return 0, err
			}
			if r.etag != nil && (resp.ETag == nil || *resp.ETag != *r.etag) {
				_ = resp.Body.Close()
				return 0, fmt.Errorf("%q changed while it was downloaded (ETag %s, then %s)", r.key, *r.etag, ptrString(resp.ETag))
			}
			r.body = resp.Body
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.failures = 0
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		_ = r.body.Close()
		r.body = nil
		if !resumable(err) || r.failures >= azfsResumes || r.ctx.Err() != nil {
			return n, err
		}
		r.failures++
		if n > 0 {
			return n, nil
		}
	}
}

// Close closes the current answer's body.
func (r *azfsReader) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}

// resumable reports whether a failed body read is worth resuming: the
// connection closed early or failed.
func resumable(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET)
}

// ptrString is *p, or "none".
func ptrString[T ~string](p *T) string {
	if p == nil {
		return "none"
	}
	return string(*p)
}

func (s *azfsStore) kind(err error) errKind {
	switch {
	case fileerror.HasCode(err, fileerror.ShareNotFound):
		return errRootMissing
	case fileerror.HasCode(err, fileerror.ResourceNotFound, fileerror.ParentNotFound):
		return errPathMissing
	case fileerror.HasCode(err, fileerror.AuthenticationFailed, fileerror.AuthorizationFailure):
		return errDenied
	}
	// Every other 403 is a refusal too (a SAS without the permission,
	// another IP or protocol: Authorization*Mismatch), as gocloud maps 403
	// for az:// blobs.
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		return errDenied
	}
	return errOther
}

func (s *azfsStore) close() error { return nil }
