package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// parallelFiles is how many files of a version download at once.
const parallelFiles = 4

// downloader copies the files of one version into a local folder.
type downloader struct {
	st    store
	base  string        // the base path, for errors
	every time.Duration // progress period
	log   *logrus.Entry // carries base_path and version

	bytes atomic.Int64 // bytes written so far
}

// errIncomplete marks a file whose byte count differs from its listed size.
var errIncomplete = errors.New("incomplete download")

// withoutFolderMarkers drops the objects that stand for folders: keys that
// end in "/" (S3 consoles create them) or equal the prefix, and empty
// objects whose key is also a folder of another key (Azure hierarchical
// namespaces list folders as empty blobs).
func withoutFolderMarkers(objs []object, prefix string) []object {
	folders := map[string]bool{}
	for _, o := range objs {
		for k := o.key; ; {
			i := strings.LastIndex(k, "/")
			if i < 0 {
				break
			}
			k = k[:i]
			if folders[k] {
				break
			}
			folders[k] = true
		}
	}
	out := objs[:0:0]
	for _, o := range objs {
		if o.key == prefix || strings.HasSuffix(o.key, "/") || (o.size == 0 && folders[o.key]) {
			continue
		}
		out = append(out, o)
	}
	return out
}

// run downloads objs (keys under prefix) into dir, keeping the paths below
// prefix, and checks that every file has exactly its listed size.
func (d *downloader) run(ctx context.Context, prefix string, objs []object, dir string) error {
	var total int64
	for _, o := range objs {
		total += o.size
	}
	start := time.Now()
	stop := d.reportProgress(total)
	defer stop()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     = make(chan object)
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for range min(parallelFiles, len(objs)) {
		wg.Go(func() {
			for o := range next {
				if err := d.file(ctx, prefix, o, dir); err != nil {
					fail(err)
				}
			}
		})
	}
feed:
	for _, o := range objs {
		select {
		case next <- o:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fsErr(ctx.Err(), "%s: download interrupted", d.base)
	}
	if firstErr != nil {
		return firstErr
	}
	took := time.Since(start)
	entry := d.log.WithFields(logrus.Fields{"files": len(objs), "bytes": total, "took": took.Round(time.Millisecond)})
	if took >= d.every {
		entry.Info("model version downloaded")
	} else {
		entry.Debug("model version downloaded")
	}
	return nil
}

// reportProgress logs the bytes written every d.every until stopped.
func (d *downloader) reportProgress(total int64) (stop func()) {
	t := time.NewTicker(d.every)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-t.C:
				d.log.WithFields(logrus.Fields{"bytes": d.bytes.Load(), "total": total}).Info("downloading model version")
			case <-quit:
				return
			}
		}
	})
	return func() {
		t.Stop()
		close(quit)
		wg.Wait()
	}
}

// file downloads one object into dir.
func (d *downloader) file(ctx context.Context, prefix string, o object, dir string) error {
	rel := strings.TrimPrefix(o.key, prefix)
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return fsErr(nil, "%s: refusing to download %q outside the version folder", d.base, o.key)
	}
	path := filepath.Join(dir, local)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fsErr(err, "%s: cannot create the folder of %s", d.base, rel)
	}
	r, err := d.st.open(ctx, o.key)
	if err != nil {
		return fsErr(err, "%s: reading %q failed", d.base, o.key)
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fsErr(err, "%s: cannot create %s", d.base, rel)
	}
	// Read at most one byte more than listed, so that a longer object is
	// caught without reading all of it.
	n, err := io.Copy(countingWriter{f, &d.bytes}, io.LimitReader(r, o.size+1))
	if cerr := f.Close(); err == nil && cerr != nil {
		return fsErr(cerr, "%s: writing %s failed", d.base, rel)
	}
	if err != nil {
		return fsErr(err, "%s: downloading %q failed", d.base, o.key)
	}
	if n != o.size {
		return fsErr(errIncomplete, "%s: %q: got %d bytes, listed size is %d", d.base, o.key, n, o.size)
	}
	return nil
}

// countingWriter adds the bytes it writes to n.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// swapIn moves the complete download tmp to final, replacing what final
// held: the old folder is renamed aside first and removed afterwards, so
// that final is only ever absent for the instant between two renames and
// never holds a partial download.
func swapIn(tmp, final string) error {
	if _, err := os.Lstat(final); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return os.Rename(tmp, final)
	}
	aside := fmt.Sprintf("%s.old-%d", tmp, time.Now().UnixNano())
	if err := os.Rename(final, aside); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Rename(aside, final)
		return err
	}
	_ = os.RemoveAll(aside) // a leftover is hidden and harmless
	return nil
}
