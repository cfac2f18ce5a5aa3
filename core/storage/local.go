package storage

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
)

// localRepo is a base path on the local file system.
type localRepo struct {
	base string

	mu   sync.Mutex
	last *localScan // the last listing that may be reused; nil for none
	// fsDev is the device reusableFS was last asked about, fsOK its
	// answer (fsKnown: it was asked).
	fsDev         uint64
	fsKnown, fsOK bool
	// reads counts the listings that read the folder (tests).
	reads atomic.Int64
}

// localScan is a listing of the base path and the identity of the folder
// it listed.
type localScan struct {
	id      dirID
	set     *versionSet
	skipped [][2]string // entries that are not versions: name, reason
}

// Versions lists the numbered folders of the base path (symbolic links to
// folders count as folders).
//
// The base path is listed again only when it may have changed since the
// last listing: a folder's entries cannot be added, removed or renamed
// without its change time moving (see dirID). File-system polls and
// config reloads list every model's folder; with hundreds of models the
// listing was most of a reload's fixed cost: now one system call a model
// instead of five (docs/performance.md, "Seventh session on issue 16").
// Folders on network file systems, and folders with a link among their
// entries, are read on every listing. (A chmod of the folder moves its
// change time; a change of this process's credentials or security policy
// does not, so a folder that became unreadable that way keeps its last
// listing.)
func (r *localRepo) Versions(_ context.Context, skipped func(name, reason string)) (map[int64]string, error) {
	set, err := r.scan(skipped)
	if err != nil {
		return nil, err
	}
	return maps.Clone(set.out), nil
}

func (r *localRepo) scan(skipped func(name, reason string)) (*versionSet, error) {
	start := time.Now()
	st, err := os.Stat(r.base)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, apierr.Newf(apierr.PathInvalid, "%s: directory does not exist", r.base)
	case err != nil:
		return nil, fsErr(err, "%s: cannot access the base path", r.base)
	case !st.IsDir():
		return nil, apierr.Newf(apierr.PathInvalid, "%s: not a directory", r.base)
	}
	id, idOK := statID(st)
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	if idOK && last != nil && last.id == id {
		if skipped != nil {
			for _, s := range last.skipped {
				skipped(s[0], s[1])
			}
		}
		return last.set, nil
	}
	r.reads.Add(1)
	entries, id, reuse, err := r.readFolder()
	if err != nil {
		return nil, err
	}
	set := newVersionSet()
	scan := &localScan{id: id, set: set}
	reuse = reuse && settled(id, start)
	note := func(name, reason string) {
		scan.skipped = append(scan.skipped, [2]string{name, reason})
		if skipped != nil {
			skipped(name, reason)
		}
	}
	for _, e := range entries {
		p := filepath.Join(r.base, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			// What a link points at can change without the base path's
			// folder changing: a folder with a link among its entries is
			// read every time.
			reuse = false
			st, err := os.Stat(p)
			isDir = err == nil && st.IsDir()
		}
		if isDir {
			set.add(e.Name(), p, note)
		}
	}
	if !reuse {
		scan = nil
	}
	r.mu.Lock()
	r.last = scan
	r.mu.Unlock()
	return set, nil
}

// readFolder reads the base path's folder: its entries (sorted by name),
// its dirID, and whether the folder's identity is known and its file
// system one whose listings may be reused (reusableFS), all through one
// descriptor, so that they describe the same folder even if the path is
// switched to another one meanwhile (a link flipped between two folders, a
// rename): a listing is never kept under another folder's id.
func (r *localRepo) readFolder() (entries []fs.DirEntry, id dirID, reusable bool, err error) {
	base := r.base
	f, err := os.Open(base)
	if err != nil {
		return nil, id, false, fsErr(err, "%s: cannot list the base path", base)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, id, false, fsErr(err, "%s: cannot access the base path", base)
	}
	if !st.IsDir() {
		return nil, id, false, apierr.Newf(apierr.PathInvalid, "%s: not a directory", base)
	}
	id, idOK := statID(st)
	if entries, err = f.ReadDir(-1); err != nil {
		return nil, id, false, fsErr(err, "%s: cannot list the base path", base)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, id, idOK && r.reusable(f, id.dev), nil
}

// reusable is reusableFS of the open folder f on device dev, asked once
// per device (on a network file system, statfs can be a round trip to
// the server).
func (r *localRepo) reusable(f *os.File, dev uint64) bool {
	r.mu.Lock()
	known, ok := r.fsDev == dev && r.fsKnown, r.fsOK
	r.mu.Unlock()
	if known {
		return ok
	}
	ok = reusableFS(f)
	r.mu.Lock()
	r.fsDev, r.fsKnown, r.fsOK = dev, true, ok
	r.mu.Unlock()
	return ok
}

// dirID is what tells that a folder may have changed: its device and
// inode (another folder renamed into its place, or a base path that is a
// link pointed elsewhere, has others) and its change and modification
// times. Adding, removing or renaming an entry sets both times, and a
// process cannot set the change time back (setting the modification time
// sets it to now): only restoring a snapshot of the file system, or
// stepping the clock back on one with whole-second times, could give a
// changed folder the times it had.
type dirID struct {
	dev, ino     uint64
	ctime, mtime int64 // nanoseconds since the epoch
}

// settleTime is how long before a listing began its folder must have last
// changed for the listing to be reused: file times come from a clock that
// ticks coarsely (the kernel's timer tick), so an entry added
// in the same tick as the listing, after it, could leave them as they
// were. A folder changed more recently is listed every time until it has
// settled.
var settleTime = 3 * time.Second // a variable for tests

// settled reports whether a folder with id had settled when a listing
// began at start.
func settled(id dirID, start time.Time) bool {
	return start.UnixNano()-max(id.ctime, id.mtime) > int64(settleTime)
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
