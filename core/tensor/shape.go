package tensor

import (
	"math"
	"strconv"
	"strings"
)

// Shape is a list of dimensions; -1 marks a dynamic dimension in metadata.
type Shape []int64

// String formats the shape the way OVMS does in messages: "(1,10)".
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	b.WriteByte(')')
	return b.String()
}

// Elements is the number of elements, or -1 if a dimension is negative or
// the product overflows int64.
func (s Shape) Elements() int64 {
	n := int64(1)
	for _, d := range s {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/d {
			return -1
		}
		n *= d
	}
	return n
}

// Equal reports whether two shapes have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// ByteSize is the number of bytes of a numeric tensor of this shape, or -1
// if the shape is invalid or the size overflows.
func (s Shape) ByteSize(dt DataType) int64 {
	n := s.Elements()
	sz := int64(dt.Size())
	if n < 0 || sz == 0 || (n > 0 && n > math.MaxInt64/sz) {
		return -1
	}
	return n * sz
}
