package gcsjson

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
)

// retryPolicy is how often and how patiently transient failures are
// retried: the calls are reads, so every one is idempotent.
type retryPolicy struct {
	attempts int // calls in all, the first included
	backoff  gax.Backoff
}

// defaultRetry retries a transient failure up to 5 times over about 8 s
// (Google's exponential backoff, jittered), within the caller's context.
var defaultRetry = retryPolicy{
	attempts: 6,
	backoff:  gax.Backoff{Initial: 250 * time.Millisecond, Max: 8 * time.Second, Multiplier: 2},
}

// do runs call until it succeeds, fails for good, or runs out of attempts.
func (p retryPolicy) do(ctx context.Context, call func() error) error {
	bo := p.backoff // a copy: Pause keeps state
	for n := 1; ; n++ {
		err := call()
		if err == nil || n >= p.attempts || !transient(err) || ctx.Err() != nil {
			return err
		}
		if serr := gax.Sleep(ctx, bo.Pause()); serr != nil {
			return err
		}
	}
}

// transient reports whether err is worth retrying, as Google's storage
// client decides: HTTP 408, 429 and 5xx, and connections refused, reset or
// cut short. Context errors are not.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code == http.StatusRequestTimeout || ge.Code == http.StatusTooManyRequests || (ge.Code >= 500 && ge.Code < 600)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// A connection the server closed before answering: the transport's
	// "EOF" (a plain io.EOF from a read is the end of the body, never
	// passed here).
	var ue *url.Error
	return errors.As(err, &ue) && errors.Is(ue.Err, io.EOF)
}
