package storage

import (
	"context"
	"io"
	"path"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azfile/directory"
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

func (s *azfsStore) open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, name := path.Split(key)
	resp, err := s.dir(p).NewFileClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, err
	}
	return resp.NewRetryReader(ctx, nil), nil
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
	return errOther
}

func (s *azfsStore) close() error { return nil }
