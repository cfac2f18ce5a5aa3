// Package gcsjson is a read-only gocloud.dev/blob driver for Google Cloud
// Storage over Google's generated JSON API client
// (google.golang.org/api/storage/v1).
//
// gocloud.dev's own driver, gcsblob, needs cloud.google.com/go/storage, which
// links gRPC xDS, Envoy's control plane and Cloud Monitoring exporters (about
// 220 packages) that a model server reading its repository never uses. This
// driver implements what core/storage reads through *blob.Bucket: listing
// with prefix, delimiter and paging, attributes, and (range) reads that
// resume after a dropped connection. Writes, copies, deletes and signed URLs
// answer gcerrors.Unimplemented.
package gcsjson

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
	storagev1 "google.golang.org/api/storage/v1"
)

// defaultPageSize is the listing page size when the caller sets none (the
// service's maximum).
const defaultPageSize = 1000

// errUnimplemented is the error of the write-side operations.
var errUnimplemented = errors.New("gcsjson: not implemented by this read-only driver")

// bucket is the driver.Bucket of one GCS bucket.
type bucket struct {
	svc   *storagev1.Service
	name  string
	retry retryPolicy
}

// OpenBucket returns the bucket name of svc as a *blob.Bucket. It does no
// network I/O: a missing bucket shows in the first listing or read
// (gcerrors.NotFound).
func OpenBucket(svc *storagev1.Service, name string) *blob.Bucket {
	return blob.NewBucket(newBucket(svc, name))
}

func newBucket(svc *storagev1.Service, name string) *bucket {
	return &bucket{svc: svc, name: name, retry: defaultRetry}
}

// ErrorCode maps the service's HTTP status to a gcerrors code: 404 is
// NotFound, 401 and 403 PermissionDenied.
func (b *bucket) ErrorCode(err error) gcerrors.ErrorCode {
	if errors.Is(err, errUnimplemented) {
		return gcerrors.Unimplemented
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return gcerrors.Unknown
	}
	switch c := ge.Code; {
	case c == http.StatusNotFound:
		return gcerrors.NotFound
	case c == http.StatusUnauthorized, c == http.StatusForbidden:
		return gcerrors.PermissionDenied
	case c == http.StatusBadRequest, c == http.StatusRequestedRangeNotSatisfiable:
		return gcerrors.InvalidArgument
	case c == http.StatusConflict:
		return gcerrors.AlreadyExists
	case c == http.StatusPreconditionFailed:
		return gcerrors.FailedPrecondition
	case c == http.StatusTooManyRequests:
		return gcerrors.ResourceExhausted
	case c == http.StatusNotImplemented:
		return gcerrors.Unimplemented
	case c >= 500:
		return gcerrors.Internal
	}
	return gcerrors.Unknown
}

// As exposes the *storagev1.Service.
func (b *bucket) As(i any) bool {
	p, ok := i.(**storagev1.Service)
	if ok {
		*p = b.svc
	}
	return ok
}

// ErrorAs exposes *googleapi.Error.
func (b *bucket) ErrorAs(err error, i any) bool {
	p, ok := i.(**googleapi.Error)
	return ok && errors.As(err, p)
}

// ListPaged lists one page of objects and "directories" (prefixes), in key
// order.
func (b *bucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	size := opts.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	call := b.svc.Objects.List(b.name).Context(ctx).Prefix(opts.Prefix).MaxResults(int64(size))
	if opts.Delimiter != "" {
		call.Delimiter(opts.Delimiter)
	}
	if len(opts.PageToken) > 0 {
		call.PageToken(string(opts.PageToken))
	}
	if opts.BeforeList != nil {
		asFunc := func(i any) bool {
			p, ok := i.(**storagev1.ObjectsListCall)
			if ok {
				*p = call
			}
			return ok
		}
		if err := opts.BeforeList(asFunc); err != nil {
			return nil, err
		}
	}
	var res *storagev1.Objects
	err := b.retry.do(ctx, func() (err error) {
		res, err = call.Do()
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{NextPageToken: []byte(res.NextPageToken)}
	for _, o := range res.Items {
		page.Objects = append(page.Objects, listObject(o))
	}
	for _, p := range res.Prefixes {
		page.Objects = append(page.Objects, &driver.ListObject{Key: p, IsDir: true})
	}
	// The service returns prefixes apart from the objects.
	sort.Slice(page.Objects, func(i, j int) bool { return page.Objects[i].Key < page.Objects[j].Key })
	return page, nil
}

// listObject converts a listed object.
func listObject(o *storagev1.Object) *driver.ListObject {
	return &driver.ListObject{
		Key:     o.Name,
		ModTime: parseTime(o.Updated),
		Size:    int64(o.Size),
		MD5:     decodeMD5(o.Md5Hash),
		AsFunc: func(i any) bool {
			p, ok := i.(**storagev1.Object)
			if ok {
				*p = o
			}
			return ok
		},
	}
}

// Attributes reads the metadata of key.
func (b *bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	var o *storagev1.Object
	err := b.retry.do(ctx, func() (err error) {
		o, err = b.svc.Objects.Get(b.name, key).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, err
	}
	etag := o.Etag
	if etag != "" && !strings.HasPrefix(etag, `"`) && !strings.HasPrefix(etag, `W/"`) {
		etag = fmt.Sprintf("%q", etag)
	}
	return &driver.Attributes{
		CacheControl:       o.CacheControl,
		ContentDisposition: o.ContentDisposition,
		ContentEncoding:    o.ContentEncoding,
		ContentLanguage:    o.ContentLanguage,
		ContentType:        o.ContentType,
		Metadata:           o.Metadata,
		CreateTime:         parseTime(o.TimeCreated),
		ModTime:            parseTime(o.Updated),
		Size:               int64(o.Size),
		MD5:                decodeMD5(o.Md5Hash),
		ETag:               etag,
		AsFunc: func(i any) bool {
			p, ok := i.(**storagev1.Object)
			if ok {
				*p = o
			}
			return ok
		},
	}, nil
}

// NewTypedWriter is not implemented.
func (b *bucket) NewTypedWriter(context.Context, string, string, *driver.WriterOptions) (driver.Writer, error) {
	return nil, errUnimplemented
}

// Copy is not implemented.
func (b *bucket) Copy(context.Context, string, string, *driver.CopyOptions) error {
	return errUnimplemented
}

// Delete is not implemented.
func (b *bucket) Delete(context.Context, string, *driver.DeleteOptions) error {
	return errUnimplemented
}

// SignedURL is not implemented.
func (b *bucket) SignedURL(context.Context, string, *driver.SignedURLOptions) (string, error) {
	return "", errUnimplemented
}

// Close does nothing: the service's HTTP client has nothing to release.
func (b *bucket) Close() error { return nil }

// parseTime parses an RFC 3339 time of the API; the zero time when absent
// or malformed.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// decodeMD5 decodes the base64 MD5 of the API; nil when absent.
func decodeMD5(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil
	}
	return b
}
