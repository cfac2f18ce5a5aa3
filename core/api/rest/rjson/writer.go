// Package rjson reproduces, byte for byte, the JSON that OVMS's REST API
// exchanges through RapidJSON and TensorFlow Serving: a writer with
// RapidJSON's Writer and PrettyWriter layout (including the single-line
// array mode), RapidJSON's double layout (shortest digits), TF Serving's decimal
// formatting, a syntax check that reports RapidJSON's parse errors and
// offsets, and a cursor that reads a checked document without building a
// tree.
package rjson

import (
	"io"
	"strconv"
)

// flushAt is the buffered size at which a Writer hands its bytes to out.
const flushAt = 32 << 10

// Escaping selects how a Writer escapes strings.
type Escaping uint8

// The string escapings.
const (
	// EscapeRapidJSON escapes as RapidJSON's Writer does: '"', '\\' and
	// control characters only; other bytes pass through unchanged.
	EscapeRapidJSON Escaping = iota
	// EscapeProtobuf escapes as protobuf's JSON printer does: also '<',
	// '>', DEL, C1 controls and a few invisible code points; invalid UTF-8
	// is dropped.
	EscapeProtobuf
)

type level struct {
	inArray bool
	count   int
}

// Writer writes one JSON document to an io.Writer, laid out exactly as
// RapidJSON's Writer (compact) or PrettyWriter does. It buffers output;
// call Flush at the end. Errors of the underlying writer are sticky and
// reported by Flush.
type Writer struct {
	out    io.Writer
	buf    []byte
	err    error
	indent int // spaces per level, pretty mode only
	pretty bool
	single bool
	esc    Escaping
	stack  []level
}

// NewWriter returns a compact writer (RapidJSON Writer): no whitespace.
func NewWriter(out io.Writer) *Writer {
	return &Writer{out: out, buf: make([]byte, 0, 4096), stack: make([]level, 0, 8)}
}

// NewPrettyWriter returns a pretty writer (RapidJSON PrettyWriter) that
// indents each level by indent spaces.
func NewPrettyWriter(out io.Writer, indent int) *Writer {
	w := NewWriter(out)
	w.pretty, w.indent = true, indent
	return w
}

// SetEscaping selects the string escaping; the default is EscapeRapidJSON.
func (w *Writer) SetEscaping(e Escaping) { w.esc = e }

// SetSingleLineArray toggles RapidJSON's kFormatSingleLineArray: while it
// is on, array elements are separated by ", " instead of new lines. Like
// RapidJSON's SetFormatOptions, it applies to whatever is written next.
func (w *Writer) SetSingleLineArray(on bool) { w.single = on }

// StartObject writes '{'.
func (w *Writer) StartObject() {
	w.prefix()
	w.stack = append(w.stack, level{})
	w.buf = append(w.buf, '{')
}

// EndObject writes '}'.
func (w *Writer) EndObject() {
	empty := w.pop()
	if w.pretty && !empty {
		w.newline()
	}
	w.buf = append(w.buf, '}')
	w.maybeFlush()
}

// StartArray writes '['.
func (w *Writer) StartArray() {
	w.prefix()
	w.stack = append(w.stack, level{inArray: true})
	w.buf = append(w.buf, '[')
}

// EndArray writes ']'.
func (w *Writer) EndArray() {
	empty := w.pop()
	if w.pretty && !empty && !w.single {
		w.newline()
	}
	w.buf = append(w.buf, ']')
	w.maybeFlush()
}

// Key writes an object member name.
func (w *Writer) Key(k string) { w.String(k) }

// String writes a string value.
func (w *Writer) String(s string) {
	w.prefix()
	w.buf = appendQuoted(w.buf, s, w.esc)
	w.maybeFlush()
}

// StringBytes writes a string value given as bytes.
func (w *Writer) StringBytes(b []byte) {
	w.prefix()
	w.buf = appendQuoted(w.buf, b, w.esc)
	w.maybeFlush()
}

// Int64 writes a signed integer.
func (w *Writer) Int64(v int64) {
	w.prefix()
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.maybeFlush()
}

// Uint64 writes an unsigned integer.
func (w *Writer) Uint64(v uint64) {
	w.prefix()
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.maybeFlush()
}

// Bool writes true or false.
func (w *Writer) Bool(v bool) {
	w.prefix()
	w.buf = strconv.AppendBool(w.buf, v)
	w.maybeFlush()
}

// Null writes null.
func (w *Writer) Null() {
	w.prefix()
	w.buf = append(w.buf, "null"...)
	w.maybeFlush()
}

// Double writes a double as RapidJSON's Writer::Double does (see
// AppendDouble).
func (w *Writer) Double(v float64) {
	w.prefix()
	w.buf = AppendDouble(w.buf, v)
	w.maybeFlush()
}

// Decimal32 writes a float as TF Serving's WriteDecimal<float> does (see
// AppendDecimal32).
func (w *Writer) Decimal32(f float32) {
	w.prefix()
	w.buf = AppendDecimal32(w.buf, f)
	w.maybeFlush()
}

// Decimal64 writes a double as TF Serving's WriteDecimal<double> does.
func (w *Writer) Decimal64(d float64) {
	w.prefix()
	w.buf = AppendDecimal64(w.buf, d)
	w.maybeFlush()
}

// Raw writes pre-formatted JSON (a number) as one value, like RapidJSON's
// RawValue.
func (w *Writer) Raw(b []byte) {
	w.prefix()
	w.buf = append(w.buf, b...)
	w.maybeFlush()
}

// WriteBytes writes b verbatim after the document (for binary payloads
// that follow a JSON header). Large slices bypass the buffer.
func (w *Writer) WriteBytes(b []byte) {
	if len(b) < flushAt {
		w.buf = append(w.buf, b...)
		w.maybeFlush()
		return
	}
	w.flush()
	if w.err == nil {
		_, w.err = w.out.Write(b)
	}
}

// Flush writes the buffered bytes and returns the first write error.
func (w *Writer) Flush() error {
	w.flush()
	return w.err
}

// Buffered is the number of bytes written since the last flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// prefix writes what precedes a value: separators and, when pretty, the
// new line and indentation (RapidJSON PrettyWriter::PrettyPrefix).
func (w *Writer) prefix() {
	if len(w.stack) == 0 {
		return
	}
	l := &w.stack[len(w.stack)-1]
	if !w.pretty {
		if l.count > 0 {
			if l.inArray || l.count%2 == 0 {
				w.buf = append(w.buf, ',')
			} else {
				w.buf = append(w.buf, ':')
			}
		}
		l.count++
		return
	}
	if l.inArray {
		if l.count > 0 {
			w.buf = append(w.buf, ',')
			if w.single {
				w.buf = append(w.buf, ' ')
			}
		}
		if !w.single {
			w.newline()
		}
	} else {
		switch {
		case l.count == 0:
			w.buf = append(w.buf, '\n')
		case l.count%2 == 0:
			w.buf = append(w.buf, ',', '\n')
		default:
			w.buf = append(w.buf, ':', ' ')
		}
		if l.count%2 == 0 {
			w.writeIndent()
		}
	}
	l.count++
}

// pop leaves a container and reports whether it was empty.
func (w *Writer) pop() bool {
	if len(w.stack) == 0 {
		return true
	}
	empty := w.stack[len(w.stack)-1].count == 0
	w.stack = w.stack[:len(w.stack)-1]
	return empty
}

func (w *Writer) newline() {
	w.buf = append(w.buf, '\n')
	w.writeIndent()
}

func (w *Writer) writeIndent() {
	for n := len(w.stack) * w.indent; n > 0; n-- {
		w.buf = append(w.buf, ' ')
	}
}

func (w *Writer) maybeFlush() {
	if len(w.buf) >= flushAt {
		w.flush()
	}
}

func (w *Writer) flush() {
	if len(w.buf) == 0 {
		return
	}
	if w.err == nil {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
}
