package gcsjson

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/googleapis/gax-go/v2"
	"gocloud.dev/blob/driver"
	"google.golang.org/api/googleapi"
	storagev1 "google.golang.org/api/storage/v1"
)

// reader reads bytes [pos, end) of one generation of an object through the
// JSON API's media download (GET .../o/<key>?alt=media with a Range
// header). A read that fails mid-body (a dropped connection, a reset
// HTTP/2 stream) reopens at the next byte, pinned to the generation first read: an object replaced in between
// fails the read (NotFound) instead of mixing two versions.
type reader struct {
	ctx  context.Context
	b    *bucket
	key  string
	body io.ReadCloser
	pos  int64 // absolute offset of the next byte
	end  int64 // absolute offset after the last byte; -1 for the object's end
	gen  int64 // generation being read; 0 until known
	// resumes counts reopenings since the last byte read.
	resumes int
	attrs   driver.ReaderAttributes
}

// NewRangeReader opens key for reading length bytes from offset (length < 0:
// to the end).
func (b *bucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	r := &reader{ctx: ctx, b: b, key: key, pos: offset, end: -1}
	if length >= 0 {
		r.end = offset + length
	}
	if opts != nil && opts.BeforeRead != nil {
		if err := opts.BeforeRead(func(any) bool { return false }); err != nil {
			return nil, err
		}
	}
	var err error
	if length == 0 {
		err = r.openEmpty()
	} else {
		err = r.open()
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusRequestedRangeNotSatisfiable {
			// offset is at or past the end: nothing to read.
			err = r.openEmpty()
		}
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// openEmpty makes r read nothing, with the object's attributes.
func (r *reader) openEmpty() error {
	var o *storagev1.Object
	err := r.b.retry.do(r.ctx, func() (err error) {
		o, err = r.b.svc.Objects.Get(r.b.name, r.key).Context(r.ctx).Do()
		return err
	})
	if err != nil {
		return err
	}
	r.body = http.NoBody
	r.gen = o.Generation
	r.attrs = driver.ReaderAttributes{ContentType: o.ContentType, ModTime: parseTime(o.Updated), Size: int64(o.Size)}
	if r.attrs.ContentType == "" {
		r.attrs.ContentType = "application/octet-stream"
	}
	return nil
}

// open requests the bytes from r.pos.
func (r *reader) open() error {
	call := r.b.svc.Objects.Get(r.b.name, r.key).Context(r.ctx)
	if r.gen != 0 {
		call.Generation(r.gen)
	}
	if r.pos > 0 || r.end >= 0 {
		rng := "bytes=" + strconv.FormatInt(r.pos, 10) + "-"
		if r.end >= 0 {
			rng += strconv.FormatInt(r.end-1, 10)
		}
		call.Header().Set("Range", rng)
	}
	var resp *http.Response
	err := r.b.retry.do(r.ctx, func() (err error) {
		resp, err = call.Download()
		return err
	})
	if err != nil {
		return err
	}
	if err := r.accept(resp); err != nil {
		resp.Body.Close()
		return err
	}
	r.body = resp.Body
	return nil
}

// accept checks that resp starts at r.pos and, on the first response,
// records the object's attributes.
func (r *reader) accept(resp *http.Response) error {
	start, total := int64(0), resp.ContentLength
	if resp.StatusCode == http.StatusPartialContent {
		var err error
		if start, total, err = contentRange(resp.Header.Get("Content-Range")); err != nil {
			return err
		}
	}
	if start != r.pos {
		return fmt.Errorf("gcsjson: %q: asked for bytes from %d, got bytes from %d (HTTP %d)", r.key, r.pos, start, resp.StatusCode)
	}
	gen, _ := strconv.ParseInt(resp.Header.Get("X-Goog-Generation"), 10, 64)
	if r.gen != 0 {
		if gen != 0 && gen != r.gen {
			return fmt.Errorf("gcsjson: %q changed while it was read (generation %d, then %d)", r.key, r.gen, gen)
		}
		return nil
	}
	r.gen = gen
	if total < 0 {
		total, _ = strconv.ParseInt(resp.Header.Get("X-Goog-Stored-Content-Length"), 10, 64)
	}
	r.attrs = driver.ReaderAttributes{ContentType: resp.Header.Get("Content-Type"), Size: total}
	if r.attrs.ContentType == "" {
		r.attrs.ContentType = "application/octet-stream"
	}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		r.attrs.ModTime = t
	}
	return nil
}

// contentRange parses "bytes first-last/total" (total may be "*": -1).
func contentRange(h string) (start, total int64, err error) {
	spec, ok := strings.CutPrefix(h, "bytes ")
	rng, tot, ok2 := strings.Cut(spec, "/")
	first, _, ok3 := strings.Cut(rng, "-")
	if !ok || !ok2 || !ok3 {
		return 0, 0, fmt.Errorf("gcsjson: malformed Content-Range %q", h)
	}
	if start, err = strconv.ParseInt(first, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("gcsjson: malformed Content-Range %q", h)
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("gcsjson: malformed Content-Range %q", h)
		}
	}
	return start, total, nil
}

// Read reads the next bytes, reopening the download where a transient
// failure cut it.
func (r *reader) Read(p []byte) (int, error) {
	if r.end >= 0 {
		rem := r.end - r.pos
		if rem <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	for {
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if n > 0 {
			r.resumes = 0
		}
		// Any other failure of the body is resumed, as Google's storage
		// client's reader does: over HTTP/2 (Google's endpoint) a cut
		// download arrives as a stream error (RST_STREAM INTERNAL_ERROR)
		// or a GOAWAY, which transient does not know. The reopening
		// request fails for good on a permanent error.
		if err == nil || errors.Is(err, io.EOF) || r.ctx.Err() != nil ||
			errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || r.resumes >= r.b.retry.attempts {
			return n, err
		}
		r.resumes++
		r.body.Close()
		r.body = http.NoBody
		if rerr := r.reopen(); rerr != nil {
			return n, fmt.Errorf("gcsjson: resuming %q at byte %d after %v: %w", r.key, r.pos, err, rerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// reopen waits a moment and opens the download again at r.pos.
func (r *reader) reopen() error {
	if err := gax.Sleep(r.ctx, r.b.retry.backoff.Initial); err != nil {
		return err
	}
	return r.open()
}

// Close ends the download.
func (r *reader) Close() error { return r.body.Close() }

// Attributes are the content type, modification time and size of the
// object.
func (r *reader) Attributes() *driver.ReaderAttributes { return &r.attrs }

// As exposes nothing.
func (r *reader) As(any) bool { return false }
