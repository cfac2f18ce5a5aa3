package storage

import (
	"context"
	"strings"

	"google.golang.org/api/option"
	storagev1 "google.golang.org/api/storage/v1"

	"github.com/ovmsgo/ovms/core/storage/internal/gcsjson"
)

// gcsSettings is what a GCS client is built from.
type gcsSettings struct {
	bucket, prefix string
	// emulator is STORAGE_EMULATOR_HOST; the GCS client then talks to it
	// without authentication (host:port gets http://, a URL keeps its
	// scheme).
	emulator string
	// credentials is GOOGLE_APPLICATION_CREDENTIALS: with it the client uses
	// Application Default Credentials (which read that file); without it,
	// requests are anonymous (public buckets), as in OVMS.
	credentials string
	// endpoint replaces Google's JSON API endpoint when not "" (tests of
	// the credentials mode; the emulator has its own).
	endpoint string
}

// anonymous reports whether requests go unauthenticated to Google.
func (s gcsSettings) anonymous() bool { return s.emulator == "" && s.credentials == "" }

func gcsSettingsFrom(loc location, env func(string) string) gcsSettings {
	return gcsSettings{
		bucket:      loc.root,
		prefix:      loc.prefix,
		emulator:    env("STORAGE_EMULATOR_HOST"),
		credentials: env("GOOGLE_APPLICATION_CREDENTIALS"),
	}
}

// service builds the GCS JSON API client of s. It does no network I/O
// beyond what Application Default Credentials need to find credentials.
// With STORAGE_EMULATOR_HOST it talks to the emulator's JSON API
// (http://host:port/storage/v1/) without authentication, as Google's
// storage client does; objects are read through the JSON API's media
// downloads, like the listing (the XML API's host-based routing needs extra
// emulator configuration: fake-gcs-server's -public-host). Credentials get
// the read-only storage scope.
func (s gcsSettings) service(ctx context.Context) (*storagev1.Service, error) {
	opts := []option.ClientOption{option.WithScopes(storagev1.DevstorageReadOnlyScope)}
	switch {
	case s.emulator != "":
		opts = append(opts, option.WithoutAuthentication(), option.WithEndpoint(emulatorEndpoint(s.emulator)))
	case s.anonymous():
		opts = append(opts, option.WithoutAuthentication())
	}
	if s.endpoint != "" && s.emulator == "" {
		opts = append(opts, option.WithEndpoint(s.endpoint))
	}
	return storagev1.NewService(ctx, opts...)
}

// emulatorEndpoint is the JSON API endpoint of STORAGE_EMULATOR_HOST:
// host:port gets http://, a URL keeps its scheme.
func emulatorEndpoint(host string) string {
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	return strings.TrimRight(host, "/") + "/storage/v1/"
}

// openGCS opens a gs:// location.
func openGCS(ctx context.Context, loc location, env func(string) string) (store, error) {
	s := gcsSettingsFrom(loc, env)
	svc, err := s.service(ctx)
	if err != nil {
		return nil, fsErr(err, "%s: cannot configure the GCS client", loc.base)
	}
	return &blobStore{b: gcsjson.OpenBucket(svc, s.bucket)}, nil
}
