package rest

import (
	"math"
	"time"
	"unsafe"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Limits bound what one request may make the REST API hold (docs/limits.md).
type Limits struct {
	// MaxRequestBytes bounds the memory decoding one request's data may
	// take beyond its body (tensor.Budget); 0: no bound.
	MaxRequestBytes int64
	// ReadTimeout is the time a request body gets before it must keep
	// up BodyMinRate (bytes per second): its deadline is ReadTimeout plus
	// one second per BodyMinRate bytes received. 0: no deadline.
	ReadTimeout time.Duration
	BodyMinRate int64
}

// SetLimits sets the request limits (the zero Limits bounds nothing).
func (s *Server) SetLimits(l Limits) { s.limits = l }

// ParseLimits is what the JSON parsers may keep of one request: the
// memory budget, and per input the most values the model's declared shape
// takes (values past it are counted, not kept: the request fails
// validation). Nil fields bound nothing.
type ParseLimits struct {
	// Budget is the request's memory budget.
	Budget *tensor.Budget
	// Inputs are the model's inputs, when the model is known and does
	// not reshape for requests; those with a static shape bound the
	// values kept.
	Inputs []device.TensorInfo
	// Named refuses the no-named forms (a servable that is a DAG
	// pipeline: OVMS does not take them for DAGs).
	Named bool
}

// parseLimits is the ParseLimits of a request to version v (nil: the
// model is not known yet). It shares the version's input list.
func (s *Server) parseLimits(v *modelmanager.Version) ParseLimits {
	l := ParseLimits{Budget: tensor.NewBudget(s.limits.MaxRequestBytes)}
	if v != nil && v.FixedShapes() {
		l.Inputs = v.Info().Inputs
	}
	l.Named = v != nil && v.IsGraph()
	return l
}

// unbounded is the cap of an input with no known shape.
const unbounded = math.MaxInt64

// modelCap is the most elements the model takes for input name, given
// whether the client sends strings (strings sent to an input that does
// not take strings become a matrix or images, of another element count).
func (l ParseLimits) modelCap(name string, strings bool) int64 {
	for _, m := range l.Inputs {
		if m.Name != name {
			continue
		}
		n := tensor.Shape(m.Shape).Elements()
		if n < 0 || (strings && m.DType != device.String) {
			return unbounded
		}
		return n
	}
	return unbounded
}

// gate bounds what one input keeps while it is parsed: values up to its
// cap (the declared shape: past it they are only counted, in excess, and
// the request fails validation with the full count), in buffers charged
// to the request budget as they are allocated (past it the parse fails
// with err). Buffers grow by doubling (from hint when the shape declares
// a size), so the values kept take at most the budget, garbage included.
type gate struct {
	input  string
	keep   int64 // values the input may still keep before its cap
	size   int64 // bytes per kept value
	hint   int   // the first buffer's size, in values
	budget *tensor.Budget
	excess uint64
	err    *tensor.MemoryError
}

func newGate(input string, cap int64, b *tensor.Budget) *gate {
	return &gate{input: input, keep: max(cap, 0), size: 1, budget: b}
}

// sizeOf is the size of a T.
func sizeOf[T any]() int64 {
	var v T
	return int64(unsafe.Sizeof(v))
}

// minGrow is the smallest buffer a gate allocates, in values.
const minGrow = 64

// grow gives *dst room for more values: a buffer of twice its capacity
// (the hint at first; never more than the input's cap), charged to the
// budget. It returns false, with g.err set, when not one more value fits.
func grow[T any](dst *[]T, g *gate) bool {
	n, c := int64(len(*dst)), int64(cap(*dst))
	want := max(2*c, minGrow)
	if c == 0 && g.hint > 0 {
		want = int64(g.hint)
	}
	want = min(want, n+g.keep, g.budget.Room(g.size))
	if want <= n || !g.budget.Take(want*g.size) {
		g.fail("its values")
		return false
	}
	grown := make([]T, n, want)
	copy(grown, *dst)
	*dst = grown
	return true
}

// push adds v to *dst within g: kept (growing the buffer as grow does),
// or only counted past the input's cap. It returns false when the budget
// is spent.
func push[T any](dst *[]T, v T, g *gate) bool {
	if g.keep <= 0 {
		g.excess++
		return true
	}
	if len(*dst) == cap(*dst) && !grow(dst, g) {
		return false
	}
	*dst = append(*dst, v)
	g.keep--
	return true
}

// pushString is push for a string element, whose bytes are charged too.
func pushString(dst *[][]byte, s []byte, g *gate) bool {
	if g.keep > 0 && !g.budget.Take(int64(len(s))) {
		g.fail("its strings")
		return false
	}
	return push(dst, s, g)
}

func (g *gate) fail(what string) {
	if g.err == nil {
		g.err = &tensor.MemoryError{Input: g.input, Limit: g.budget.Limit(), What: what}
	}
}

// reader is an rjson Append*Max reader bound to its conversion.
type reader[T any] func(c *rjson.Cursor, dst []T, max int) (out []T, n int, done, ok bool)

// readRun reads the run of numbers at the cursor into *dst within g (the
// readers append into the room grow made, never past it), then, past the
// input's cap, counts the rest without keeping it; past the budget it
// fails (g.err). It returns the number of values read (kept or counted),
// whether the array ended and whether the numbers were acceptable.
func readRun[T any](c *rjson.Cursor, dst *[]T, g *gate, read reader[T]) (total int, done, ok bool) {
	for {
		if g.keep <= 0 {
			var scratch [256]T
			for {
				_, n, done, ok := read(c, scratch[:0], len(scratch))
				g.excess += uint64(n)
				total += n
				if done || !ok || c.Kind() != rjson.KindNumber {
					return total, done, ok
				}
			}
		}
		if len(*dst) == cap(*dst) && !grow(dst, g) {
			return total, true, false
		}
		room := int(min(int64(cap(*dst)-len(*dst)), g.keep))
		var n int
		*dst, n, done, ok = read(c, *dst, room)
		g.keep -= int64(n)
		total += n
		if done || !ok || c.Kind() != rjson.KindNumber {
			return total, done, ok
		}
	}
}

// floats and ints make readers of rjson's run readers.
func floats[T rjson.Float](slow func(rjson.Number) T) reader[T] {
	return func(c *rjson.Cursor, dst []T, max int) ([]T, int, bool, bool) {
		out, n, done := rjson.AppendFloatsMax(c, dst, max, slow)
		return out, n, done, true
	}
}

func ints[T rjson.Integer](unsigned bool, conv func(rjson.Number) (T, bool)) reader[T] {
	return func(c *rjson.Cursor, dst []T, max int) ([]T, int, bool, bool) {
		return rjson.AppendIntsMax(c, dst, max, unsigned, conv)
	}
}
