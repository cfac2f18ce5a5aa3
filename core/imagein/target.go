package imagein

import (
	"fmt"

	"github.com/ovmsgo/ovms/plugins/device"
)

// Target is the model input the images are for.
type Target struct {
	// Name is the input name, for messages.
	Name string
	// Shape is the model input shape in NHWC order, rank 4; -1 means any
	// size.
	Shape []int64
	// Range holds optional per-dimension [min,max] bounds for the -1
	// dimensions of Shape; nil, a missing entry or a max of -1 means
	// unbounded.
	Range [][2]int64
	// DType is the element type of the model input.
	DType device.DataType
	// MaxBytes, when positive, bounds the memory of this call: the
	// tensor plus the largest decoded image (see DefaultMaxBytes and
	// SetMaxBytes, which apply otherwise).
	MaxBytes int64
}

// dim is one model dimension the way OVMS's Dimension (src/shape.cpp) sees
// it: static (min == max >= 0), a range (0 <= min < max) or any (max < 0).
type dim struct{ min, max int64 }

// dimOf returns dimension i of t.
func (t Target) dimOf(i int) dim {
	v := t.Shape[i]
	if v >= 0 {
		return dim{v, v}
	}
	if i < len(t.Range) {
		lo, hi := t.Range[i][0], t.Range[i][1]
		if lo < 0 {
			lo = 0
		}
		// An interval without an upper bound is Dimension::any() in OVMS.
		if hi >= 0 && lo <= hi {
			return dim{lo, hi}
		}
	}
	return dim{-1, -1}
}

func (d dim) isAny() bool    { return d.max < 0 }
func (d dim) isStatic() bool { return !d.isAny() && d.min == d.max }

// match is Dimension::match.
func (d dim) match(v int64) bool {
	if v < -1 {
		return false
	}
	if d.isAny() {
		return true
	}
	return v >= d.min && v <= d.max
}

// String is Dimension::toString: "3", "-1" or "[1~4]".
func (d dim) String() string {
	switch {
	case d.isAny():
		return "-1"
	case d.isStatic():
		return fmt.Sprint(d.min)
	}
	return fmt.Sprintf("[%d~%d]", d.min, d.max)
}

// fit is updateTargetResolution for one dimension: the size an image of
// size v is brought to.
func (d dim) fit(v int64) int64 {
	switch {
	case d.isAny():
		return v
	case d.isStatic():
		return d.min
	case v > d.max:
		return d.max
	case v < d.min:
		return d.min
	}
	return v
}
