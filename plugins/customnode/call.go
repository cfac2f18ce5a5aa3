package customnode

import (
	"reflect"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/device"
)

// Call is one Execute call: the request's inputs and the outputs being
// written. It is used by one goroutine, during Execute only.
type Call struct {
	dc     *device.Call
	params Params
}

// Params are the node's params.
func (c *Call) Params() Params { return c.params }

// Input is one input tensor as the request carries it. Data is read-only
// and valid during Execute only.
type Input struct {
	Name  string
	DType DataType
	Shape []int64
	Data  []byte
}

// Input returns the input called name (an INVALID_ARGUMENT error naming it
// when the request has none).
func (c *Call) Input(name string) (Input, error) {
	ref, b, err := c.dc.Input(name)
	if err != nil {
		return Input{}, err
	}
	return Input{Name: ref.Name, DType: ref.DType, Shape: ref.Shape, Data: b}, nil
}

// Wants reports whether the request asks for output name (a node may skip
// computing the others; Out for them is harmless).
func (c *Call) Wants(name string) bool { return c.dc.Wants(name) }

// Output allocates output name of dtype and shape in shared memory and
// returns its bytes to fill (little-endian, row-major). It belongs to the
// response once Execute returns nil; it is freed if Execute fails.
func (c *Call) Output(name string, dtype DataType, shape ...int64) ([]byte, error) {
	return c.dc.Output(name, dtype, append([]int64{}, shape...))
}

// Number is an element type In and Out view tensor memory as.
type Number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16
}

// TypeOf is the DataType of T (a named type's is its underlying type's).
func TypeOf[T Number]() DataType {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Float32:
		return FP32
	case reflect.Int8:
		return I8
	case reflect.Int16:
		return I16
	case reflect.Int32:
		return I32
	case reflect.Int64:
		return I64
	case reflect.Uint8:
		return U8
	case reflect.Uint16:
		return U16
	}
	return FP64
}

// In returns input name as values of T, without copying, and its shape. An
// input of another type is an INVALID_ARGUMENT error.
func In[T Number](c *Call, name string) ([]T, []int64, error) {
	in, err := c.Input(name)
	if err != nil {
		return nil, nil, err
	}
	if want := TypeOf[T](); in.DType != want {
		return nil, nil, status.Errorf(codes.InvalidArgument, "input %q is %v, not %v", name, in.DType, want)
	}
	return device.View[T](in.Data), in.Shape, nil
}

// Out allocates output name with the given shape as values of T (zeroed
// memory is not promised: write every element).
func Out[T Number](c *Call, name string, shape ...int64) ([]T, error) {
	b, err := c.Output(name, TypeOf[T](), shape...)
	if err != nil {
		return nil, err
	}
	return device.View[T](b), nil
}

// Elements is the number of elements of a shape (1 for a scalar).
func Elements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// Errorf is an error for a request the node cannot run (bad input values):
// the client gets OVMS's "Custom node failed during execution" with the
// message.
func Errorf(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}
