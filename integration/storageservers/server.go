package storageservers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Server is a running storage server.
type Server interface {
	// Scheme is "s3", "gs" or "az".
	Scheme() string
	// Env is what a process needs to reach the server (KEY=value).
	Env() []string
	// CreateBucket makes a bucket (S3, GCS) or container (Azure).
	CreateBucket(ctx context.Context, name string) error
	// Put uploads data as object key in bucket.
	Put(ctx context.Context, bucket, key string, data []byte) error
	// Delete removes every object under prefix.
	Delete(ctx context.Context, bucket, prefix string) error
	// Close stops the server.
	Close() error
}

// UploadDir uploads every file under dir to bucket/prefix/<relative path>.
// The object keys use forward slashes; an empty prefix puts the files at the
// root of the bucket. Empty folders are not represented.
func UploadDir(ctx context.Context, s Server, dir, bucket, prefix string) error {
	prefix = strings.Trim(prefix, "/")
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			// Follow symbolic links to files; skip anything else.
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return nil
			}
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if prefix != "" {
			key = path.Join(prefix, key)
		}
		if err := s.Put(ctx, bucket, key, data); err != nil {
			return fmt.Errorf("upload %s: %w", p, err)
		}
		return nil
	})
}

// httpServer serves handler on a fresh loopback port; its address is known
// before the caller builds anything that needs it.
type httpServer struct {
	ln  net.Listener
	srv *http.Server
	err chan error
}

func listenLoopback() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

func serve(ln net.Listener, handler http.Handler) *httpServer {
	h := &httpServer{
		ln:  ln,
		srv: &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second},
		err: make(chan error, 1),
	}
	go func() { h.err <- h.srv.Serve(ln) }()
	return h
}

func (h *httpServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, h.srv.Close())
	}
	if serr := <-h.err; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// closeNow closes the listener and every connection at once (Shutdown
// waits up to 5 s for connections a client opened but sent nothing on).
func (h *httpServer) closeNow() error {
	err := h.srv.Close()
	if serr := <-h.err; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// port is the loopback port a listener is bound to.
func port(ln net.Listener) int {
	return ln.Addr().(*net.TCPAddr).Port
}
