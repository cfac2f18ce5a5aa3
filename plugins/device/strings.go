package device

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// String tensors travel as a sequence of elements, each a uint32
// little-endian length followed by that many bytes (KServe's raw BYTES
// layout). These helpers are shared by the core and the device plugins.

// ErrStringLayout reports malformed string tensor bytes.
var ErrStringLayout = errors.New("malformed string tensor")

// StringsSize is the number of bytes PutStrings writes for elems.
func StringsSize(elems [][]byte) int {
	n := 0
	for _, e := range elems {
		n += 4 + len(e)
	}
	return n
}

// PutStrings lays elems out in dst, which holds at least StringsSize(elems)
// bytes, and returns the number of bytes written.
func PutStrings(dst []byte, elems [][]byte) int {
	o := 0
	for _, e := range elems {
		binary.LittleEndian.PutUint32(dst[o:], uint32(len(e)))
		o += 4 + copy(dst[o+4:], e)
	}
	return o
}

// SplitStrings returns the elements of string tensor bytes as views into b.
func SplitStrings(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: truncated length prefix", ErrStringLayout)
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: element of %d bytes exceeds the %d bytes left", ErrStringLayout, n, len(b))
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out, nil
}
