package storage

import (
	"context"
	"io"
)

// object is a file of a remote store.
type object struct {
	key  string // full key, from the root of the store
	size int64  // listed size in bytes
}

// errKind classifies a store error.
type errKind int

const (
	errOther       errKind = iota
	errRootMissing         // the bucket, container or share does not exist
	errPathMissing         // a folder under the root does not exist
	errDenied              // credentials were refused
)

// store is the remote back end of a repository: a bucket, container or
// share, read as folders separated by "/".
type store interface {
	// list lists prefix ("" or ending in "/"). Not recursive: the names of
	// its immediate sub-folders (no prefix, no slash) and its immediate
	// files. Recursive: every file under prefix, no folders.
	list(ctx context.Context, prefix string, recursive bool) (dirs []string, files []object, err error)
	// open reads the file at key.
	open(ctx context.Context, key string) (io.ReadCloser, error)
	// kind classifies an error of list or open.
	kind(err error) errKind
	// close releases the client.
	close() error
}
