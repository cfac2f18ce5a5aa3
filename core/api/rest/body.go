package rest

import (
	"errors"
	"io"
	"math/bits"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/reclaim"
)

// Request bodies are read in chunks taken from pools, never sized by the
// Content-Length a client announces: a chunk is as large as what has
// arrived so far (from minChunk up to maxChunk), so a body holds at most
// twice its size, plus one chunk, while it is read, and a client that
// announces a gigabyte and sends a byte costs one small chunk.
const (
	minChunkShift = 14 // 16 KiB
	maxChunkShift = 20 // 1 MiB
)

// chunkPools hold free chunks, one pool per size (minChunk << i).
var chunkPools [maxChunkShift - minChunkShift + 1]sync.Pool

// getChunk returns a chunk of the class for a body of n bytes so far.
func getChunk(n int) *[]byte {
	shift := minChunkShift
	if n > 1<<minChunkShift {
		shift = min(bits.Len(uint(n-1)), maxChunkShift)
	}
	if c, ok := chunkPools[shift-minChunkShift].Get().(*[]byte); ok {
		return c
	}
	b := make([]byte, 1<<shift)
	return &b
}

func putChunk(c *[]byte) {
	shift := bits.Len(uint(len(*c))) - 1
	chunkPools[shift-minChunkShift].Put(c)
}

// body is a request body as received: full chunks, in order, then the
// last one, partly filled.
type body struct {
	chunks [][]byte  // the bytes, views of bufs
	bufs   []*[]byte // the pooled chunks, returned by release
	n      int
	whole  []byte // the body in one buffer, once asked for
}

// Len is the body's size.
func (b *body) Len() int { return b.n }

// Bytes returns the body in one buffer: its only chunk, or a copy of its
// chunks (JSON is parsed from one buffer), which are then released.
func (b *body) Bytes() []byte {
	switch {
	case b.whole != nil:
		return b.whole
	case len(b.chunks) == 1:
		b.whole = b.chunks[0]
		return b.whole
	}
	b.whole = make([]byte, 0, b.n)
	for _, c := range b.chunks {
		b.whole = append(b.whole, c...)
	}
	b.release()
	b.chunks = [][]byte{b.whole}
	return b.whole
}

// Prefix returns the first n bytes in one buffer: a view when they lie in
// the first chunk, else a copy of those n bytes only (the rest, binary
// inputs, stays in the chunks).
func (b *body) Prefix(n int) []byte {
	if len(b.chunks) > 0 && n <= len(b.chunks[0]) {
		return b.chunks[0][:n:n]
	}
	out := make([]byte, 0, n)
	for _, p := range b.Parts(0, n) {
		out = append(out, p...)
	}
	return out
}

// Tail is the body from offset off on, as a binaryPart.
func (b *body) Tail(off int) binaryPart { return tail{b, off} }

// Parts returns bytes [off, off+n) as views of the chunks.
func (b *body) Parts(off, n int) [][]byte {
	var out [][]byte
	for _, c := range b.chunks {
		if n == 0 {
			break
		}
		if off >= len(c) {
			off -= len(c)
			continue
		}
		k := min(len(c)-off, n)
		out = append(out, c[off:off+k:off+k])
		off, n = 0, n-k
	}
	if out == nil {
		out = [][]byte{{}}
	}
	return out
}

// release returns the chunks of a small body to the pools (those of a
// large one are left to the garbage collector, so that the pools do not
// keep a large body's memory); the body's bytes must not be used
// afterwards unless Bytes copied them. A large body arms the reclaim of
// free memory (package reclaim).
func (b *body) release() {
	if b.n <= maxPooledBody {
		for _, c := range b.bufs {
			putChunk(c)
		}
	}
	reclaim.After(b.n)
	b.bufs = nil
	if b.whole == nil {
		b.chunks = nil
	}
}

// maxPooledBody is the largest body whose chunks go back to the pools.
const maxPooledBody = 4 << 20

// tail is a body from an offset on.
type tail struct {
	b   *body
	off int
}

func (t tail) Len() int { return t.b.n - t.off }

func (t tail) Parts(off, n int) [][]byte { return t.b.Parts(t.off+off, n) }

// readBody reads the request body in chunks, refusing more than
// MaxBodyBytes. With a read timeout, the body must arrive within
// ReadTimeout plus one second per BodyMinRate bytes: the deadline moves on
// as bytes arrive, so a large upload at a steady rate succeeds while a
// stalled or trickling one is cut (408, and the connection closes). Call
// release when the request is done.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*body, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, apierr.New(apierr.RequestTooLarge)
	}
	var rc *http.ResponseController
	var start time.Time
	if s.limits.ReadTimeout > 0 {
		rc, start = http.NewResponseController(w), time.Now()
		if rc.SetReadDeadline(start.Add(s.limits.ReadTimeout)) != nil {
			rc = nil // not a network connection (tests)
		} else {
			// Cleared once the body is read: a deadline left behind
			// would cancel the request when it passes.
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	b := &body{}
	var cur []byte
	for {
		if len(cur) == cap(cur) {
			if len(cur) > 0 {
				b.chunks = append(b.chunks, cur)
			}
			buf := getChunk(b.n)
			b.bufs = append(b.bufs, buf)
			cur = (*buf)[:0]
		}
		k, err := r.Body.Read(cur[len(cur):cap(cur)])
		cur = cur[:len(cur)+k]
		b.n += k
		if b.n > MaxBodyBytes {
			b.release()
			return nil, apierr.New(apierr.RequestTooLarge)
		}
		if rc != nil && k > 0 && s.limits.BodyMinRate > 0 {
			grace := time.Duration(float64(b.n) / float64(s.limits.BodyMinRate) * float64(time.Second))
			_ = rc.SetReadDeadline(start.Add(s.limits.ReadTimeout + grace))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			b.release()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				w.Header().Set("Connection", "close")
				return nil, apierr.Wrap(apierr.RequestTimeout, err, "%d bytes arrived; a body gets %v plus 1 s per %d KiB (--rest_read_timeout_seconds, --rest_body_min_rate_kib)",
					b.n, s.limits.ReadTimeout, s.limits.BodyMinRate>>10)
			}
			return nil, apierr.Wrap(apierr.InternalError, err, "reading the request body failed")
		}
	}
	if len(cur) > 0 || len(b.chunks) == 0 {
		b.chunks = append(b.chunks, cur)
	}
	return b, nil
}

// readSmallBody reads a body that is parsed whole (configuration and
// repository requests) and returns it in one buffer of its own.
func (s *Server) readSmallBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), b.Bytes()...)
	b.release()
	return out, nil
}
