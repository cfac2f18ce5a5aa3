package tfs

import (
	"encoding/binary"
	"fmt"

	fw "github.com/ovmsgo/ovms/proto/tensorflow/core/framework"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// dtypeNames are the names OVMS prints for a request's TFS dtype.
var dtypeNames = map[fw.DataType]string{
	fw.DataType_DT_FLOAT: "FP32", fw.DataType_DT_DOUBLE: "FP64", fw.DataType_DT_INT32: "I32",
	fw.DataType_DT_INT8: "I8", fw.DataType_DT_UINT8: "U8", fw.DataType_DT_HALF: "FP16",
	fw.DataType_DT_INT16: "I16", fw.DataType_DT_UINT16: "U16", fw.DataType_DT_UINT64: "U64",
	fw.DataType_DT_INT64: "I64", fw.DataType_DT_BOOL: "BOOL", fw.DataType_DT_STRING: "STRING",
	fw.DataType_DT_UINT32: "U32", fw.DataType_DT_BFLOAT16: "BF16",
}

// decodeInput turns a TensorProto into a request input without copying
// tensor bytes: tensor_content and string_val are aliased, typed fields are
// converted while being written into the arena. parts, when not nil, is
// the tensor_content the codec kept in the received buffers (the
// TensorProto then has none). A single value given for a larger shape is
// broadcast (TF Serving's shorthand) when the tensor it makes fits budget;
// otherwise the error is a *tensor.MemoryError.
func decodeInput(name string, tp *fw.TensorProto, parts [][]byte, budget *tensor.Budget) (tensor.Input, error) {
	in := tensor.Input{Name: name, DTypeName: "INVALID"}
	if dt, ok := tensor.FromTFS(int32(tp.GetDtype())); ok {
		in.DType = dt
		in.DTypeName = dtypeNames[tp.GetDtype()]
	}
	for _, d := range tp.GetTensorShape().GetDim() {
		in.Shape = append(in.Shape, d.GetSize())
	}
	if in.DType != device.String {
		if c := tp.GetTensorContent(); len(c) > 0 {
			in.Raw, in.HasRaw = c, true
			return in, nil
		}
		if kept := (tensor.Input{RawParts: parts}); kept.RawLen() > 0 {
			in.RawParts, in.HasRaw = parts, true
			return in, nil
		}
	}
	switch in.DType {
	case device.String:
		in.Strings = tp.GetStringVal()
	case device.Float32:
		in.Values = nonEmpty(tensor.Numbers[float32](tp.GetFloatVal()))
	case device.Float64:
		in.Values = nonEmpty(tensor.Numbers[float64](tp.GetDoubleVal()))
	case device.Int32, device.Int16, device.Int8, device.Uint8, device.Uint16:
		in.Values = nonEmpty(tensor.Numbers[int32](tp.GetIntVal()))
	case device.Int64:
		in.Values = nonEmpty(tensor.Numbers[int64](tp.GetInt64Val()))
	case device.Uint32:
		in.Values = nonEmpty(tensor.Numbers[uint32](tp.GetUint32Val()))
	case device.Uint64:
		in.Values = nonEmpty(tensor.Numbers[uint64](tp.GetUint64Val()))
	case device.Bool:
		if b := tp.GetBoolVal(); len(b) > 0 {
			in.Values = tensor.Bools(b)
		}
	case device.Float16, device.BFloat16:
		// OVMS counts half_val even when it is empty (no tensor_content
		// fallback for halves).
		in.Values = tensor.HalfBits(tp.GetHalfVal())
	}
	if in.Values == nil && in.DType != device.String {
		// No data at all: OVMS reports the missing tensor_content bytes.
		in.HasRaw = true
	}
	if n := in.Shape.Elements(); in.Values != nil && in.Values.Len() == 1 && n > 1 && n <= maxBroadcast {
		if size := in.DType.Size(); size > 0 && !budget.Take(n*int64(size)) {
			return in, &tensor.MemoryError{Input: name, Limit: budget.Limit(),
				What: fmt.Sprintf("broadcasting one value to %s (%d bytes)", in.Shape, n*int64(size))}
		}
		in.Values = tensor.Broadcast{One: in.Values, N: int(n)}
	}
	return in, nil
}

// maxBroadcast bounds the elements one value may fill (TF Serving's
// single-value shorthand), whether or not a request budget is set (which
// bounds its bytes too); larger declared shapes get the value-count error.
const maxBroadcast = 1 << 28

// nonEmpty keeps a Values only if it holds something, so an empty typed
// field falls back to the tensor_content size check.
func nonEmpty[T tensor.Values](v T) tensor.Values {
	if v.Len() == 0 {
		return nil
	}
	return v
}

// encodeOutput turns a response tensor into a TensorProto aliasing its data.
func encodeOutput(o *tensor.Output) (*fw.TensorProto, error) {
	tp := &fw.TensorProto{Dtype: fw.DataType(tensor.TFSType(o.DType)), TensorShape: shapeProto(o.Shape)}
	if o.DType == device.String {
		s, err := o.Strings()
		if err != nil {
			return nil, err
		}
		tp.StringVal = s
		return tp, nil
	}
	if o.Sequence && len(o.Data) == 8 { // as OVMS writes it
		tp.Uint64Val = []uint64{binary.LittleEndian.Uint64(o.Data)}
		return tp, nil
	}
	tp.TensorContent = o.Data
	return tp, nil
}

func shapeProto(s []int64) *fw.TensorShapeProto {
	sp := &fw.TensorShapeProto{Dim: make([]*fw.TensorShapeProto_Dim, len(s))}
	for i, d := range s {
		sp.Dim[i] = &fw.TensorShapeProto_Dim{Size: d}
	}
	return sp
}
