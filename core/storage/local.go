package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ovmsgo/ovms/core/apierr"
)

// localRepo is a base path on the local file system.
type localRepo struct {
	base string
}

// Versions lists the numbered folders of the base path (symbolic links to
// folders count as folders).
func (r *localRepo) Versions(_ context.Context, skipped func(name, reason string)) (map[int64]string, error) {
	set, err := r.scan(skipped)
	if err != nil {
		return nil, err
	}
	return set.out, nil
}

func (r *localRepo) scan(skipped func(name, reason string)) (*versionSet, error) {
	st, err := os.Stat(r.base)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, apierr.Newf(apierr.PathInvalid, "%s: directory does not exist", r.base)
	case err != nil:
		return nil, fsErr(err, "%s: cannot access the base path", r.base)
	case !st.IsDir():
		return nil, apierr.Newf(apierr.PathInvalid, "%s: not a directory", r.base)
	}
	entries, err := os.ReadDir(r.base)
	if err != nil {
		return nil, fsErr(err, "%s: cannot list the base path", r.base)
	}
	set := newVersionSet()
	for _, e := range entries {
		p := filepath.Join(r.base, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			isDir = err == nil && st.IsDir()
		}
		if isDir {
			set.add(e.Name(), p, skipped)
		}
	}
	return set, nil
}

// Fetch returns the version folder itself.
func (r *localRepo) Fetch(_ context.Context, n int64) (string, error) {
	set, err := r.scan(nil)
	if err != nil {
		return "", err
	}
	p, ok := set.out[n]
	if !ok {
		return "", apierr.Newf(apierr.PathInvalid, "%s: version %d does not exist", r.base, n)
	}
	return p, nil
}

// Release does nothing: the folder is the user's.
func (r *localRepo) Release(int64) error { return nil }

// Close does nothing.
func (r *localRepo) Close() error { return nil }
