package tensor

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/ovmsgo/ovms/core/apierr"
)

// Budget is the memory decoding one request may still allocate beyond the
// bytes the client sent (--max_request_memory_mb): the buffers of values
// read from JSON, string elements and their views, single-value
// broadcasts. A nil Budget is unbounded. It is used by one request at a
// time.
type Budget struct {
	left, limit int64
}

// NewBudget returns a budget of limit bytes, or nil (unbounded) for a
// limit of 0 or less.
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		return nil
	}
	return &Budget{left: limit, limit: limit}
}

// Room is how many items of size bytes still fit (math.MaxInt64 when
// unbounded).
func (b *Budget) Room(size int64) int64 {
	if b == nil {
		return math.MaxInt64
	}
	if size <= 0 {
		return math.MaxInt64
	}
	return b.left / size
}

// Take charges n bytes and reports whether they fitted; nothing is
// charged when they do not.
func (b *Budget) Take(n int64) bool {
	if b == nil {
		return true
	}
	if n < 0 || n > b.left {
		return false
	}
	b.left -= n
	return true
}

// Limit is the budget's size in bytes (0 when unbounded).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// StringOverhead is what a string element takes in a request beyond its
// bytes: the view ([]byte) that holds it. Budgets charge it per element.
const StringOverhead = int64(unsafe.Sizeof([]byte(nil)))

// MemoryError reports a request whose decoded data would take more
// memory than the request budget allows. Adapters that know the model
// turn it into the API error with For.
type MemoryError struct {
	// Input is the input whose data did not fit.
	Input string
	// Limit is the budget in bytes.
	Limit int64
	// What describes the data, e.g. "its values" or "broadcasting one
	// value to (8192,8192)".
	What string
}

// Error reads like the API error without the model.
func (e *MemoryError) Error() string {
	return fmt.Sprintf("input %s: %s", e.Input, e.detail())
}

func (e *MemoryError) detail() string {
	return fmt.Sprintf("%s would take more than the %d MiB one request may use (--max_request_memory_mb)", e.What, e.Limit>>20)
}

// For is the API error (RequestTooLarge: 413, RESOURCE_EXHAUSTED) naming
// the model and version (a version of 0 is left out).
func (e *MemoryError) For(model string, version int64) error {
	v := ""
	if version > 0 {
		v = fmt.Sprintf(" version %d", version)
	}
	return apierr.Wrap(apierr.RequestTooLarge, e, "model %s%s input %s: %s", model, v, e.Input, e.detail())
}

// NameModel turns a *MemoryError in err into the API error naming the
// model and version; other errors are returned as they are.
func NameModel(err error, model string, version int64) error {
	if me, ok := err.(*MemoryError); ok {
		return me.For(model, version)
	}
	return err
}
