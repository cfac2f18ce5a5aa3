package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
)

// progressEvery is how often a running download logs its progress.
const progressEvery = 2 * time.Second

// remoteRepo is a base path in a remote store, downloaded version by
// version into a local cache.
type remoteRepo struct {
	st    store
	loc   location
	cache string // <cacheDir>/<hash of the base path>
	log   *logrus.Entry
	// every is how often downloads log progress (progressEvery; tests
	// shorten it).
	every time.Duration

	mu    sync.Mutex            // guards locks and the cache folder's existence
	locks map[int64]*sync.Mutex // one per version: Fetch and Release of n are serial
}

func newRemote(st store, loc location, cacheDir string, log *logrus.Entry) *remoteRepo {
	return &remoteRepo{
		st:    st,
		loc:   loc,
		cache: filepath.Join(cacheDir, cacheKey(loc.base)),
		log:   log,
		every: progressEvery,
		locks: map[int64]*sync.Mutex{},
	}
}

// cacheKey is the stable name of a base path's cache folder: the first 16
// hex digits of its SHA-256.
func cacheKey(base string) string {
	h := sha256.Sum256([]byte(base))
	return hex.EncodeToString(h[:8])
}

// lock serialises the operations on version n.
func (r *remoteRepo) lock(n int64) func() {
	r.mu.Lock()
	l, ok := r.locks[n]
	if !ok {
		l = &sync.Mutex{}
		r.locks[n] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// listErr turns a store error while listing prefix into an API error.
func (r *remoteRepo) listErr(err error, prefix string) error {
	switch r.st.kind(err) {
	case errRootMissing:
		return codeErr(apierr.PathInvalid, nil, "%s: %s %q does not exist", r.loc.base, r.loc.rootKind(), r.loc.root)
	case errPathMissing:
		return codeErr(apierr.PathInvalid, nil, "%s: %q does not exist", r.loc.base, prefix)
	case errDenied:
		return fsErr(err, "%s: access to %s %q denied while listing %q", r.loc.base, r.loc.rootKind(), r.loc.root, prefix)
	}
	return fsErr(err, "%s: listing %q failed", r.loc.base, prefix)
}

// Versions lists the numbered folders under the base prefix. A prefix with
// nothing under it does not exist (object stores have no empty folders).
func (r *remoteRepo) Versions(ctx context.Context, skipped func(name, reason string)) (map[int64]string, error) {
	set, err := r.scan(ctx, skipped)
	if err != nil {
		return nil, err
	}
	return set.out, nil
}

// scan lists the version folders; locations are base/<name> and names are
// kept for Fetch.
func (r *remoteRepo) scan(ctx context.Context, skipped func(name, reason string)) (*versionSet, error) {
	dirs, files, err := r.st.list(ctx, r.loc.prefix, false)
	if err != nil {
		return nil, r.listErr(err, r.loc.prefix)
	}
	if len(dirs) == 0 && len(files) == 0 && r.loc.prefix != "" {
		return nil, codeErr(apierr.PathInvalid, nil, "%s: nothing under %q in %s %q", r.loc.base, r.loc.prefix, r.loc.rootKind(), r.loc.root)
	}
	set := newVersionSet()
	for _, d := range dirs {
		if d == "" {
			continue
		}
		set.add(d, r.loc.base+"/"+d, skipped)
	}
	return set, nil
}

// dir is the cache folder of version n.
func (r *remoteRepo) dir(n int64) string {
	return filepath.Join(r.cache, strconv.FormatInt(n, 10))
}

// Fetch downloads version n into the cache and returns its folder.
func (r *remoteRepo) Fetch(ctx context.Context, n int64) (string, error) {
	defer r.lock(n)()
	set, err := r.scan(ctx, nil)
	if err != nil {
		return "", err
	}
	name, ok := set.name[n]
	if !ok {
		return "", apierr.Newf(apierr.PathInvalid, "%s: version %d does not exist", r.loc.base, n)
	}
	prefix := r.loc.prefix + name + "/"
	_, objs, err := r.st.list(ctx, prefix, true)
	if err != nil {
		return "", r.listErr(err, prefix)
	}
	objs = withoutFolderMarkers(objs, prefix)
	if len(objs) == 0 {
		return "", fsErr(nil, "%s: version %d has no files", r.loc.base, n)
	}

	tmp, err := r.tempDir(n)
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
			r.removeCacheIfEmpty()
		}
	}()
	log := r.log.WithFields(logrus.Fields{"base_path": r.loc.base, "version": n})
	d := &downloader{st: r.st, base: r.loc.base, every: r.every, log: log}
	if err := d.run(ctx, prefix, objs, tmp); err != nil {
		return "", err
	}
	final := r.dir(n)
	if err := swapIn(tmp, final); err != nil {
		return "", fsErr(err, "%s: cannot move version %d into the cache", r.loc.base, n)
	}
	done = true
	return final, nil
}

// tempDir creates the download folder of version n next to its final place.
func (r *remoteRepo) tempDir(n int64) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.MkdirAll(r.cache, 0o755); err != nil {
		return "", fsErr(err, "%s: cannot create cache folder %s", r.loc.base, r.cache)
	}
	tmp, err := os.MkdirTemp(r.cache, "."+strconv.FormatInt(n, 10)+".tmp-")
	if err != nil {
		return "", fsErr(err, "%s: cannot create a download folder in %s", r.loc.base, r.cache)
	}
	return tmp, nil
}

// Release removes the cached copy of version n, and the base path's cache
// folder once it is empty.
func (r *remoteRepo) Release(n int64) error {
	defer r.lock(n)()
	if err := os.RemoveAll(r.dir(n)); err != nil {
		return fsErr(err, "%s: cannot remove the cached version %d", r.loc.base, n)
	}
	r.removeCacheIfEmpty()
	return nil
}

// removeCacheIfEmpty removes the base path's cache folder when nothing is
// in it (os.Remove fails on a folder that holds versions or downloads).
func (r *remoteRepo) removeCacheIfEmpty() {
	r.mu.Lock()
	_ = os.Remove(r.cache)
	r.mu.Unlock()
}

// Close releases the store's client.
func (r *remoteRepo) Close() error {
	if err := r.st.close(); err != nil {
		return fsErr(err, "%s: closing the storage client failed", r.loc.base)
	}
	return nil
}
