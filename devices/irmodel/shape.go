package irmodel

import (
	"fmt"
	"strconv"
	"strings"
)

// Dim is one dimension: Min == Max for a static one; a dynamic one has
// Min 0 and Max -1 (unbounded) unless IR gives a range ("1..8").
type Dim struct {
	Min, Max int64
}

// Static reports whether d is one known size.
func (d Dim) Static() bool { return d.Min == d.Max && d.Min >= 0 }

// Size is d's size, or -1 when it is dynamic (as ONNX and OVMS show it).
func (d Dim) Size() int64 {
	if d.Static() {
		return d.Min
	}
	return -1
}

// String writes d as IR does: "3", "?", "1..8", "..8", "2..".
func (d Dim) String() string {
	switch {
	case d.Static():
		return strconv.FormatInt(d.Min, 10)
	case d.Min <= 0 && d.Max < 0:
		return "?"
	case d.Max < 0:
		return fmt.Sprintf("%d..", d.Min)
	case d.Min <= 0:
		return fmt.Sprintf("..%d", d.Max)
	}
	return fmt.Sprintf("%d..%d", d.Min, d.Max)
}

// Shape is a tensor's dimensions; empty for a scalar. A nil Shape with
// DynamicRank set in its owner means the rank itself is unknown.
type Shape []Dim

// Sizes returns the dimensions with -1 for dynamic ones.
func (s Shape) Sizes() []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = d.Size()
	}
	return out
}

// Static reports whether every dimension is known.
func (s Shape) Static() bool {
	for _, d := range s {
		if !d.Static() {
			return false
		}
	}
	return true
}

// String writes s as IR's shape attribute does ("1,3,?,..8").
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// ParseShape reads a shape attribute: comma-separated dims, each a size,
// "?" or "-1" (dynamic), or a range "a..b", "..b", "a.."; spaces are
// allowed around each dim ("1, 1"); "" is a scalar. A shape of "..." or
// "?" alone with rankDynamic true means the rank is unknown: it returns
// nil, true.
func ParseShape(s string) (shape Shape, rankDynamic bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shape{}, false, nil
	}
	if s == "..." {
		return nil, true, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		d, err := ParseDim(part)
		if err != nil {
			return nil, false, fmt.Errorf("shape %q: %w", s, err)
		}
		shape = append(shape, d)
	}
	return shape, false, nil
}

// ParseDim reads one dimension as IR writes it in shape attributes and
// <dim> elements.
func ParseDim(s string) (Dim, error) {
	s = strings.TrimSpace(s)
	if s == "?" || s == "-1" {
		return Dim{0, -1}, nil
	}
	if lo, hi, ok := strings.Cut(s, ".."); ok {
		d := Dim{0, -1}
		var err error
		if lo = strings.TrimSpace(lo); lo != "" {
			if d.Min, err = strconv.ParseInt(lo, 10, 64); err != nil || d.Min < 0 {
				return Dim{}, fmt.Errorf("bad dimension %q", s)
			}
		}
		if hi = strings.TrimSpace(hi); hi != "" {
			if d.Max, err = strconv.ParseInt(hi, 10, 64); err != nil || d.Max < d.Min {
				return Dim{}, fmt.Errorf("bad dimension %q", s)
			}
		}
		return d, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return Dim{}, fmt.Errorf("bad dimension %q", s)
	}
	return Dim{n, n}, nil
}
