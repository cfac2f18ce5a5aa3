// Package security is ovms's transport security, beyond what OVMS offers
// (OVMS needs an nginx sidecar for it): TLS and mutual TLS for the gRPC
// and REST ports, and API keys for inference and control endpoints. The
// certificate and key files are watched and reloaded when they change, so
// that certificates and keys rotate without a restart; a new file that
// does not load keeps the old one in force and logs an error.
// docs/security.md describes what is protected and what is not.
package security

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// PollInterval is how often the watched files are read for changes.
var PollInterval = time.Second

// fileSet is a group of files loaded together (a certificate and its
// key): apply is given their contents and takes them into use, or returns
// why it cannot, leaving what is in use as it is.
type fileSet struct {
	name  string // what the files are, for logs: "TLS certificate"
	paths []string
	apply func(contents [][]byte) error
	seen  [sha256.Size]byte // digest of the contents last tried
}

// read reads every file and the digest of them all.
func (f *fileSet) read() ([][]byte, [sha256.Size]byte, error) {
	h := sha256.New()
	contents := make([][]byte, len(f.paths))
	for i, p := range f.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("reading %s: %w", p, err)
		}
		contents[i] = b
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return contents, d, nil
}

// load reads and applies the files; used at startup, where an error stops
// the server.
func (f *fileSet) load() error {
	contents, d, err := f.read()
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	f.seen = d
	if err := f.apply(contents); err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	return nil
}

// check reloads the files if their contents changed since they were last
// tried. Each new content is tried (and a failure logged) once.
func (f *fileSet) check(log *logrus.Entry) {
	contents, d, err := f.read()
	if err != nil {
		// A file being replaced can be missing for a moment: try again at
		// the next poll, log at debug level only.
		log.WithError(err).WithField("files", f.paths).Debug("cannot read " + f.name + "; keeping the one in use")
		return
	}
	if d == f.seen {
		return
	}
	f.seen = d
	if err := f.apply(contents); err != nil {
		log.WithError(err).WithField("files", f.paths).Error("new " + f.name + " not loaded; keeping the one in use")
		return
	}
	log.WithField("files", f.paths).Info(f.name + " reloaded")
}

// watch checks the sets every PollInterval until ctx is done.
func watch(ctx context.Context, log *logrus.Entry, sets ...*fileSet) {
	if len(sets) == 0 {
		return
	}
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, s := range sets {
				s.check(log)
			}
		}
	}
}
