package rest

import (
	"bytes"
	"encoding/binary"
	"github.com/ovmsgo/ovms/core/tensor/f16"
	"io"
	"math"
	"strconv"

	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// InferEncoding is a checked KServe infer response ready to be written.
type InferEncoding struct {
	resp    *tensor.Response
	id      string
	outs    []kOutput
	header  []byte // the rendered JSON when binary outputs follow it
	hasBins bool
}

type kOutput struct {
	*tensor.Output
	name   string // KServe datatype
	binary bool
	strs   [][]byte
	shm    map[string]*kpb.InferParameter // parameters of an output in shared memory
}

// EncodeInfer checks a response for the KServe REST API, as OVMS's
// makeJsonFromPredictResponse does, before anything is sent. Outputs named
// in binary are sent as raw bytes after the JSON, announced by
// "parameters": {"binary_data_size": N}. As a superset of OVMS, FP16,
// BF16 and BOOL outputs are written (as numbers and true/false).
//
// Outputs written into client shared memory (placements) carry no data;
// their parameters say where they are.
func EncodeInfer(resp *tensor.Response, id string, binaryOutputs map[string]bool, placements map[string]tensor.ShmRef) (*InferEncoding, error) {
	if len(resp.Outputs) == 0 {
		return nil, apierr.New(apierr.RestProtoToStringError)
	}
	e := &InferEncoding{resp: resp, id: id, outs: make([]kOutput, len(resp.Outputs))}
	for i := range resp.Outputs {
		o := &resp.Outputs[i]
		k := kOutput{Output: o, name: tensor.KServeName(o.DType), binary: binaryOutputs[o.Name]}
		if k.name == "" {
			return nil, apierr.New(apierr.RestUnsupportedPrecision)
		}
		if o.Placed {
			k.binary, k.shm = false, kserve.OutputParameters(o, placements)
			e.outs[i] = k
			continue
		}
		if o.DType == device.String {
			if !k.binary {
				s, err := o.Strings()
				if err != nil {
					return nil, apierr.Wrap(apierr.InternalError, err, "output %s", o.Name)
				}
				k.strs = s
			}
		} else if n := tensor.Shape(o.Shape).ByteSize(o.DType); n < 0 || int64(len(o.Data)) != n {
			return nil, apierr.New(apierr.RestSerializeTensorContentInvalidSize)
		}
		if k.binary && len(o.Data) > 0 {
			e.hasBins = true
		}
		e.outs[i] = k
	}
	if e.hasBins {
		var buf bytes.Buffer
		if err := e.writeJSON(&buf); err != nil {
			return nil, err
		}
		e.header = buf.Bytes()
	}
	return e, nil
}

// HeaderLength is the value of the Inference-Header-Content-Length
// response header: the JSON length when binary outputs follow it.
func (e *InferEncoding) HeaderLength() (int, bool) { return len(e.header), e.hasBins }

// WriteTo writes the JSON document (4-space PrettyWriter with single-line
// arrays, no trailing new line) and then the binary outputs, with no copy
// of the output bytes.
func (e *InferEncoding) WriteTo(out io.Writer) (int64, error) {
	if !e.hasBins {
		cw := &countWriter{w: out}
		err := e.writeJSON(cw)
		return cw.n, err
	}
	n, err := out.Write(e.header)
	total := int64(n)
	for _, o := range e.outs {
		if err != nil {
			break
		}
		if o.binary {
			n, err = out.Write(o.Data)
			total += int64(n)
		}
	}
	return total, err
}

func (e *InferEncoding) writeJSON(out io.Writer) error {
	w := rjson.NewPrettyWriter(out, 4)
	w.SetSingleLineArray(true)
	w.StartObject()
	w.Key("model_name")
	w.String(e.resp.Model)
	if e.id != "" {
		w.Key("id")
		w.String(e.id)
	}
	w.Key("model_version")
	w.String(strconv.FormatInt(e.resp.Version, 10))
	w.Key("outputs")
	w.StartArray()
	for i := range e.outs {
		o := &e.outs[i]
		w.StartObject()
		w.Key("name")
		w.String(o.Name)
		w.Key("shape")
		w.StartArray()
		for _, d := range o.Shape {
			w.Int64(int64(int32(d)))
		}
		w.EndArray()
		w.Key("datatype")
		w.String(o.name)
		if o.shm != nil {
			writeShmParams(w, o.shm)
		} else if !o.binary {
			w.Key("data")
			w.StartArray()
			o.data(w)
			w.EndArray()
		} else if len(o.Data) > 0 {
			w.Key("parameters")
			w.StartObject()
			w.Key("binary_data_size")
			w.Int64(int64(int32(len(o.Data))))
			w.EndObject()
		}
		w.EndObject()
	}
	w.EndArray()
	w.EndObject()
	return w.Flush()
}

// writeShmParams writes the parameters of an output in shared memory.
func writeShmParams(w *rjson.Writer, ps map[string]*kpb.InferParameter) {
	w.Key("parameters")
	w.StartObject()
	for _, k := range []string{kserve.ParamRegion, kserve.ParamOffset, kserve.ParamSize} {
		p, ok := ps[k]
		if !ok {
			continue
		}
		w.Key(k)
		if sp, ok := p.GetParameterChoice().(*kpb.InferParameter_StringParam); ok {
			w.String(sp.StringParam)
		} else {
			w.Int64(p.GetInt64Param())
		}
	}
	w.EndObject()
}

// data writes the elements: floats with RapidJSON's Double, integers as
// such, BYTES as strings.
func (o *kOutput) data(w *rjson.Writer) {
	d := o.Data
	le := binary.LittleEndian
	switch o.DType {
	case device.Float32:
		for i := 0; i+4 <= len(d); i += 4 {
			w.Double(float64(math.Float32frombits(le.Uint32(d[i:]))))
		}
	case device.Float64:
		for i := 0; i+8 <= len(d); i += 8 {
			w.Double(math.Float64frombits(le.Uint64(d[i:])))
		}
	case device.Float16:
		for i := 0; i+2 <= len(d); i += 2 {
			w.Double(float64(f16.HalfToFloat32(le.Uint16(d[i:]))))
		}
	case device.BFloat16:
		for i := 0; i+2 <= len(d); i += 2 {
			w.Double(float64(f16.BFloat16ToFloat32(le.Uint16(d[i:]))))
		}
	case device.Int8:
		for _, b := range d {
			w.Int64(int64(int8(b)))
		}
	case device.Uint8:
		for _, b := range d {
			w.Uint64(uint64(b))
		}
	case device.Bool:
		for _, b := range d {
			w.Bool(b != 0)
		}
	case device.Int16:
		for i := 0; i+2 <= len(d); i += 2 {
			w.Int64(int64(int16(le.Uint16(d[i:]))))
		}
	case device.Uint16:
		for i := 0; i+2 <= len(d); i += 2 {
			w.Uint64(uint64(le.Uint16(d[i:])))
		}
	case device.Int32:
		for i := 0; i+4 <= len(d); i += 4 {
			w.Int64(int64(int32(le.Uint32(d[i:]))))
		}
	case device.Uint32:
		for i := 0; i+4 <= len(d); i += 4 {
			w.Uint64(uint64(le.Uint32(d[i:])))
		}
	case device.Int64:
		for i := 0; i+8 <= len(d); i += 8 {
			w.Int64(int64(le.Uint64(d[i:])))
		}
	case device.Uint64:
		for i := 0; i+8 <= len(d); i += 8 {
			w.Uint64(le.Uint64(d[i:]))
		}
	case device.String:
		for _, s := range o.strs {
			w.StringBytes(s)
		}
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

// Write counts what w accepted.
func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
