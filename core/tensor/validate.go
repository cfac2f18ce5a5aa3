package tensor

import (
	"errors"
	"sort"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Validate checks a request against a model's inputs in OVMS's order: the
// number of inputs, then for each model input in name order its presence
// (by its name, else by one of its Aliases: the input is then renamed),
// negative dimensions, zero dimensions (refused only with NoEmpty, unlike
// OVMS 2026.2), precision, rank, batch, other dimensions and the amount of
// data. The first failure is returned with OVMS's message.
func Validate(model []device.TensorInfo, req *Request) error {
	if err := ValidateCount(model, len(req.Inputs)); err != nil {
		return err
	}
	byName := make(map[string]*Input, len(req.Inputs))
	for i := range req.Inputs {
		byName[req.Inputs[i].Name] = &req.Inputs[i]
	}
	order := make([]int, len(model))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return model[order[a]].Name < model[order[b]].Name })
	for _, i := range order {
		m := &model[i]
		in, ok := byName[m.Name]
		if !ok && len(m.Aliases) > 0 {
			in, ok = byAlias(byName, m)
		}
		if !ok {
			return apierr.Newf(apierr.InvalidMissingInput, "Required input: %s", m.Name)
		}
		if err := validateInput(m, in, req); err != nil {
			return err
		}
	}
	return nil
}

// byAlias finds the request input that names model input m by one of its
// aliases and renames it to m's name, the one the rest of the way uses.
func byAlias(byName map[string]*Input, m *device.TensorInfo) (*Input, bool) {
	for _, a := range m.Aliases {
		if in, ok := byName[a]; ok {
			in.Name = m.Name
			return in, true
		}
	}
	return nil, false
}

// ValidateCount is the first check of Validate, for adapters that must run
// it before decoding the data.
func ValidateCount(model []device.TensorInfo, n int) error {
	if n == 0 || n != len(model) {
		return apierr.Newf(apierr.InvalidNoOfInputs, "Expected: %d; Actual: %d", len(model), n)
	}
	return nil
}

// ErrDimension marks the INVALID_SHAPE errors of a negative or zero
// dimension in a request, which no reshape can serve.
var ErrDimension = errors.New("negative or zero dimension")

func validateInput(m *device.TensorInfo, in *Input, req *Request) error {
	api := req.API
	for _, d := range in.Shape {
		if d < 0 {
			return dimensionError(in)
		}
	}
	if in.DType == device.String && m.DType != device.String {
		return convertStrings(m, in, api, req.Layouts[m.Name]) // refuses an empty batch itself
	}
	// OVMS 2026.2 passes zero dimensions on to the engine, and so does
	// ovms, except to a model with an operator whose ONNX Runtime kernel
	// kills the process on an empty tensor (LSTM and GRU abort, DFT divides
	// by zero, ConvTranspose reads out of bounds: see
	// onnxmodel.EmptyUnsafe), which would take every model of the plugin
	// down. Those get OVMS's own message for a zero dimension (OVMS refused
	// zeros so up to 2023; see docs/compatibility.md).
	if req.NoEmpty {
		for _, d := range in.Shape {
			if d == 0 {
				return dimensionError(in)
			}
		}
	}
	if in.DType != m.DType {
		return apierr.Newf(apierr.InvalidPrecision, "Expected: %s; Actual: %s; input name: %s", PrecisionName(m.DType), in.DTypeName, in.Name)
	}
	want := Shape(m.Shape)
	if len(in.Shape) != len(want) {
		return apierr.Newf(apierr.InvalidNoOfShapeDimensions, "Expected: %s; Actual: %s; input name: %s", m.ShapeString(), in.Shape, in.Name)
	}
	if len(m.ShapeMax) > 0 { // dimension ranges (an OpenVINO IR's "1..8")
		if err := validateRanges(m, in); err != nil {
			return err
		}
		return validateContent(in, api)
	}
	if len(want) > 0 && want[0] >= 0 && in.Shape[0] != want[0] {
		return apierr.Newf(apierr.InvalidBatchSize, "Expected: %d; Actual: %d; input name: %s", want[0], in.Shape[0], in.Name)
	}
	for i, d := range want {
		if d >= 0 && in.Shape[i] != d {
			return apierr.Newf(apierr.InvalidShape, "Expected: %s; Actual: %s; input name: %s", want, in.Shape, in.Name)
		}
	}
	return validateContent(in, api)
}

// validateRanges is the batch and shape check for a model input with
// dimension ranges, as OVMS's Dimension::match: the batch dimension (the
// first) out of its range is INVALID_BATCH_SIZE "Expected: [1~4]", any
// other dimension INVALID_SHAPE "Expected: ([1~4],10)".
func validateRanges(m *device.TensorInfo, in *Input) error {
	if len(in.Shape) > 0 && !m.InRange(0, in.Shape[0]) {
		return apierr.Newf(apierr.InvalidBatchSize, "Expected: %s; Actual: %d; input name: %s", m.DimString(0), in.Shape[0], in.Name)
	}
	for i, d := range in.Shape {
		if !m.InRange(i, d) {
			return apierr.Newf(apierr.InvalidShape, "Expected: %s; Actual: %s; input name: %s", m.ShapeString(), in.Shape, in.Name)
		}
	}
	return nil
}

func dimensionError(in *Input) error {
	return apierr.Wrap(apierr.InvalidShape, ErrDimension, "Negative or zero dimension size is not acceptable: %s; input name: %s", in.Shape, in.Name)
}

func validateContent(in *Input, api API) error {
	// OVMS multiplies the dimensions in size_t, which wraps; its messages
	// show the wrapped counts. Shapes whose true size overflows are refused
	// even if a wrapped count happens to match.
	n := uint64(1)
	for _, d := range in.Shape {
		n *= uint64(d)
	}
	overflow := in.Shape.Elements() < 0 || (in.DType != device.String && in.Shape.ByteSize(in.DType) < 0)
	bytes := n * uint64(in.DType.Size())
	switch {
	case in.Shm != nil:
		if in.DType == device.String {
			return apierr.Newf(apierr.SharedMemoryInvalid, "BYTES inputs cannot be passed in shared memory; input name: %s", in.Name)
		}
		if in.Shm.Size != bytes || overflow {
			return apierr.Newf(apierr.InvalidContentSize, "Expected: %d bytes; Actual: %d bytes; input name: %s", bytes, in.Shm.Size, in.Name)
		}
	case in.DType == device.String:
		if got := in.StringCount(); got != n || overflow {
			return valueCount(api, n, got, in.Name)
		}
	case in.HasRaw:
		if got := uint64(in.RawLen()); got != bytes || overflow {
			return apierr.Newf(apierr.InvalidContentSize, "Expected: %d bytes; Actual: %d bytes; input name: %s", bytes, got, in.Name)
		}
	default:
		if got := in.ValueCount(); got != n || overflow {
			return valueCount(api, n, got, in.Name)
		}
	}
	if in.Excess > 0 { // not reached: a count past the shape fails above
		return apierr.Newf(apierr.InternalError, "input %s: %d values were not kept", in.Name, in.Excess)
	}
	return nil
}

func valueCount(api API, want, got uint64, name string) error {
	if api == KServe {
		return apierr.Newf(apierr.InvalidValueCount, "Expected: %d values; Actual: %d values; input name: %s", want, got, name)
	}
	return apierr.Newf(apierr.InvalidValueCount, "Expected: %d; Actual: %d; input name: %s", want, got, name)
}
