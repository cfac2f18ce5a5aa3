package rest

import (
	"encoding/base64"
	"encoding/binary"
	"github.com/ovmsgo/ovms/core/tensor/f16"
	"io"
	"math"
	"strings"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// WritePredict writes a TFS predict response the way OVMS does through TF
// Serving's MakeJsonFromTensors: a 4-space PrettyWriter document with
// "predictions" (row order; one output unwrapped per instance, several as
// one object per instance; each instance on one line) or "outputs"
// (column order; one output unwrapped, every element on its own line).
// Floats use TF Serving's WriteDecimal; strings are JSON strings, or
// {"b64": ...} for outputs whose name ends in "_bytes". As a superset of
// OVMS, FP16, BF16, U16 and BOOL outputs are written too, and so are
// outputs without elements. Everything that can fail is checked before
// the first byte is written; errors after that come from out.
func WritePredict(out io.Writer, resp *tensor.Response, order Order) error {
	outs, err := checkTFSOutputs(resp.Outputs, order)
	if err != nil {
		return err
	}
	w := rjson.NewPrettyWriter(out, 4)
	w.StartObject()
	objects := len(outs) > 1
	if order == OrderRow {
		w.Key("predictions")
		w.StartArray()
		offsets := make([]int, len(outs))
		for item := int64(0); item < outs[0].Shape[0]; item++ {
			if objects {
				w.StartObject()
			}
			w.SetSingleLineArray(true)
			for i := range outs {
				if objects {
					w.Key(outs[i].Name)
				}
				outs[i].values(w, 1, &offsets[i])
			}
			w.SetSingleLineArray(false)
			if objects {
				w.EndObject()
			}
		}
		w.EndArray()
	} else {
		w.Key("outputs")
		if objects {
			w.StartObject()
		}
		for i := range outs {
			if objects {
				w.Key(outs[i].Name)
			}
			off := 0
			outs[i].values(w, 0, &off)
		}
		if objects {
			w.EndObject()
		}
	}
	w.EndObject()
	return w.Flush()
}

// tfsOutput is a checked output ready to be written.
type tfsOutput struct {
	*tensor.Output
	strs    [][]byte
	asBytes bool
}

func checkTFSOutputs(outputs []tensor.Output, order Order) ([]tfsOutput, error) {
	if len(outputs) == 0 {
		return nil, apierr.New(apierr.RestProtoToStringError)
	}
	outs := make([]tfsOutput, len(outputs))
	for i := range outputs {
		o := &outputs[i]
		n := tensor.Shape(o.Shape).Elements()
		if n < 0 {
			return nil, apierr.New(apierr.RestSerializeTensorContentInvalidSize)
		}
		outs[i] = tfsOutput{Output: o}
		switch o.DType {
		case device.String:
			s, err := o.Strings()
			if err != nil {
				return nil, apierr.Wrap(apierr.InternalError, err, "output %s", o.Name)
			}
			if int64(len(s)) != n {
				return nil, apierr.New(apierr.RestSerializeTensorContentInvalidSize)
			}
			outs[i].strs, outs[i].asBytes = s, strings.HasSuffix(o.Name, "_bytes")
		case device.Float32, device.Float64, device.Float16, device.BFloat16, device.Int8, device.Int16,
			device.Int32, device.Int64, device.Uint8, device.Uint16, device.Uint32, device.Uint64, device.Bool:
			if int64(len(o.Data)) != n*int64(o.DType.Size()) {
				return nil, apierr.New(apierr.RestSerializeTensorContentInvalidSize)
			}
		default:
			return nil, apierr.New(apierr.RestUnsupportedPrecision)
		}
	}
	if order == OrderRow {
		// TF Serving's row layout needs one common batch dimension.
		for _, o := range outs {
			if len(o.Shape) == 0 || len(outs[0].Shape) == 0 || o.Shape[0] != outs[0].Shape[0] {
				return nil, apierr.New(apierr.RestProtoToStringError)
			}
		}
	}
	return outs, nil
}

// values is TF Serving's AddTensorValues: nested arrays from dimension
// dim down, a bare value past the last dimension.
func (o *tfsOutput) values(w *rjson.Writer, dim int, off *int) {
	if dim > len(o.Shape)-1 {
		o.value(w, *off)
		*off++
		return
	}
	w.StartArray()
	for i := int64(0); i < o.Shape[dim]; i++ {
		if dim == len(o.Shape)-1 {
			o.value(w, *off)
			*off++
		} else {
			o.values(w, dim+1, off)
		}
	}
	w.EndArray()
}

// value writes element i.
func (o *tfsOutput) value(w *rjson.Writer, i int) {
	d := o.Data
	le := binary.LittleEndian
	switch o.DType {
	case device.Float32:
		w.Decimal32(math.Float32frombits(le.Uint32(d[4*i:])))
	case device.Float64:
		w.Decimal64(math.Float64frombits(le.Uint64(d[8*i:])))
	case device.Float16:
		w.Decimal32(f16.HalfToFloat32(le.Uint16(d[2*i:])))
	case device.BFloat16:
		w.Decimal32(f16.BFloat16ToFloat32(le.Uint16(d[2*i:])))
	case device.Int8:
		w.Int64(int64(int8(d[i])))
	case device.Uint8:
		w.Int64(int64(d[i]))
	case device.Int16:
		w.Int64(int64(int16(le.Uint16(d[2*i:]))))
	case device.Uint16:
		w.Int64(int64(le.Uint16(d[2*i:])))
	case device.Int32:
		w.Int64(int64(int32(le.Uint32(d[4*i:]))))
	case device.Uint32:
		w.Uint64(uint64(le.Uint32(d[4*i:])))
	case device.Int64:
		w.Int64(int64(le.Uint64(d[8*i:])))
	case device.Uint64:
		w.Uint64(le.Uint64(d[8*i:]))
	case device.Bool:
		w.Bool(d[i] != 0)
	case device.String:
		if o.asBytes {
			w.StartObject()
			w.Key("b64")
			w.String(base64.StdEncoding.EncodeToString(o.strs[i]))
			w.EndObject()
		} else {
			w.StringBytes(o.strs[i])
		}
	}
}
