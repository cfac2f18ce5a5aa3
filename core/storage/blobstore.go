package storage

import (
	"context"
	"errors"
	"io"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"
)

// blobStore is a store over a gocloud.dev bucket (S3, GCS, Azure blob, and
// local folders for tests).
type blobStore struct {
	b *blob.Bucket
	// closers run after the bucket is closed (clients the bucket does not
	// own).
	closers []func() error
}

func (s *blobStore) list(ctx context.Context, prefix string, recursive bool) ([]string, []object, error) {
	opts := &blob.ListOptions{Prefix: prefix}
	if !recursive {
		opts.Delimiter = "/"
	}
	var (
		dirs  []string
		files []object
	)
	it := s.b.List(opts)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return dirs, files, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if o.IsDir {
			dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/"))
			continue
		}
		files = append(files, object{key: o.Key, size: o.Size})
	}
}

func (s *blobStore) open(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.b.NewReader(ctx, key, nil)
}

func (s *blobStore) kind(err error) errKind {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return errRootMissing
	case gcerrors.PermissionDenied:
		return errDenied
	}
	return errOther
}

func (s *blobStore) close() error {
	err := s.b.Close()
	for _, c := range s.closers {
		err = errors.Join(err, c())
	}
	return err
}

// openFile opens a file:// location: the whole file system as a bucket,
// read with gocloud's fileblob driver.
func openFile(loc location) (store, error) {
	b, err := fileblob.OpenBucket(loc.root, nil)
	if err != nil {
		return nil, fsErr(err, "%s: cannot open the file system", loc.base)
	}
	return &blobStore{b: b}, nil
}
