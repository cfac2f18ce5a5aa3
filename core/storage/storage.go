package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
)

// Repository is where a model's version folders live.
type Repository interface {
	// Versions lists the version folders: number -> the folder's location
	// (a local path, or the remote prefix). Entries whose name is not a
	// whole number > 0 are skipped; skipped(name, reason) is called for each
	// (reason: "expected version directory name to be in number format" or
	// "expected version directory name to be a number greater than 0"). A
	// base path that does not exist gives an *apierr.Error with code
	// apierr.PathInvalid; listing failures apierr.FilesystemError.
	Versions(ctx context.Context, skipped func(name, reason string)) (map[int64]string, error)
	// Fetch makes version n available as a local folder and returns its path.
	// Local repositories return the version folder itself. Remote ones
	// download every object under the version prefix into
	// <cacheDir>/<stable hash of the base path>/<n> through a temporary
	// folder in the same parent and one atomic rename, after checking the
	// download is complete (each object's byte count equals its listed size,
	// and at least one file). Progress is logged (logrus, fields: base_path,
	// version, bytes, total) at most every 2 s for downloads that take
	// longer. An existing complete cache folder for n is replaced (a new
	// download), never reused across processes.
	Fetch(ctx context.Context, n int64) (string, error)
	// Release removes the local copy of version n (no-op for local paths).
	Release(n int64) error
	// Close releases clients.
	Close() error
}

// The reasons Versions gives skipped for a folder that is not a version.
const (
	reasonNotNumber   = "expected version directory name to be in number format"
	reasonNotPositive = "expected version directory name to be a number greater than 0"
)

// The URL schemes of remote base paths. "azure://" is an alias of "az://"
// (OVMS documents both spellings for Azure blob storage).
const (
	schemeS3    = "s3"
	schemeGCS   = "gs"
	schemeAz    = "az"
	schemeAzure = "azure"
	schemeAzfs  = "azfs"
	schemeFile  = "file" // tests only: a local folder read like a bucket
)

// IsRemote reports whether basePath is a cloud URL (s3://, gs://, az://,
// azure://, azfs://).
func IsRemote(basePath string) bool {
	switch scheme(basePath) {
	case schemeS3, schemeGCS, schemeAz, schemeAzure, schemeAzfs:
		return true
	}
	return false
}

// scheme returns the part of basePath before "://", or "" when it has none.
func scheme(basePath string) string {
	i := strings.Index(basePath, "://")
	if i <= 0 {
		return ""
	}
	return basePath[:i]
}

// Open returns the repository of basePath. cacheDir is where remote
// versions are downloaded (created if missing; os.TempDir()/ovms-models when
// empty). A local path is returned as is and needs no cacheDir. "file://"
// base paths are read through the remote code path (listing, download,
// cache) from a local folder; they exist for tests.
//
// Credentials and endpoints come from the environment; see the package
// documentation for the variables each scheme honours.
func Open(ctx context.Context, basePath, cacheDir string, log *logrus.Entry) (Repository, error) {
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	sch := scheme(basePath)
	if sch == "" {
		return &localRepo{base: basePath}, nil
	}
	if !IsRemote(basePath) && sch != schemeFile {
		return nil, apierr.Newf(apierr.PathInvalid, "%s: unsupported URL scheme %q (use s3://, gs://, az://, azfs:// or a local path)", basePath, sch)
	}
	loc, err := parseLocation(basePath)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, loc, os.Getenv)
	if err != nil {
		return nil, err
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "ovms-models")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		_ = st.close()
		return nil, fsErr(err, "%s: cannot create cache folder %s", basePath, cacheDir)
	}
	return newRemote(st, loc, cacheDir, log), nil
}

// openStore opens the client for loc.
func openStore(ctx context.Context, loc location, env func(string) string) (store, error) {
	switch loc.scheme {
	case schemeS3:
		return openS3(ctx, loc, env)
	case schemeGCS:
		return openGCS(ctx, loc, env)
	case schemeAz, schemeAzure:
		return openAzBlob(ctx, loc, env)
	case schemeAzfs:
		return openAzfs(ctx, loc, env)
	default:
		return openFile(loc)
	}
}
