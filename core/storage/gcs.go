package storage

import (
	"context"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob/gcsblob"
	"google.golang.org/api/option"
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

// client builds the GCS client of s. storage.NewClient reads
// STORAGE_EMULATOR_HOST itself from the process environment. Objects are
// read through the JSON API, like the listing (the XML API's host-based
// routing needs extra emulator configuration: fake-gcs-server's
// -public-host).
func (s gcsSettings) client(ctx context.Context) (*storage.Client, error) {
	opts := []option.ClientOption{storage.WithJSONReads()}
	if s.anonymous() {
		opts = append(opts, option.WithoutAuthentication())
	}
	return storage.NewClient(ctx, opts...)
}

// openGCS opens a gs:// location.
func openGCS(ctx context.Context, loc location, env func(string) string) (store, error) {
	s := gcsSettingsFrom(loc, env)
	c, err := s.client(ctx)
	if err != nil {
		return nil, fsErr(err, "%s: cannot configure the GCS client", loc.base)
	}
	b, err := gcsblob.OpenBucket(ctx, nil, s.bucket, &gcsblob.Options{Client: c})
	if err != nil {
		_ = c.Close()
		return nil, fsErr(err, "%s: cannot open GCS bucket %q", loc.base, s.bucket)
	}
	return &blobStore{b: b, closers: []func() error{c.Close}}, nil
}
