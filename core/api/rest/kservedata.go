package rest

import (
	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"math"

	"github.com/ovmsgo/ovms/core/api/rest/rjson"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	kpb "github.com/ovmsgo/ovms/proto/kserve"
)

// The datatypes KServe JSON data may hold.
const (
	dataFP32 = iota + 1
	dataFP64
	dataInt32 // INT8, INT16, INT32
	dataInt64
	dataUint32 // UINT8, UINT16, UINT32
	dataUint64
	dataBool
	dataBytes
)

var jsonDatatypes = map[string]int{
	"FP32": dataFP32, "FP64": dataFP64, "INT8": dataInt32, "INT16": dataInt32, "INT32": dataInt32, "INT64": dataInt64,
	"UINT8": dataUint32, "UINT16": dataUint32, "UINT32": dataUint32, "UINT64": dataUint64, "BOOL": dataBool, "BYTES": dataBytes,
}

// parseData is KFSRestParser::parseData: nested arrays are flattened and
// each element must have the JSON type of the datatype. hint is the
// number of values the shape declares (bounded by the body), to size the
// contents once.
func parseData(c *rjson.Cursor, datatype string, ct *kpb.InferTensorContents, hint int) error {
	kind, ok := jsonDatatypes[datatype]
	if !ok {
		return apierr.New(apierr.RestUnsupportedPrecision)
	}
	switch kind {
	case dataFP32:
		ct.Fp32Contents = make([]float32, 0, hint)
	case dataFP64:
		ct.Fp64Contents = make([]float64, 0, hint)
	case dataInt32:
		ct.IntContents = make([]int32, 0, hint)
	case dataInt64:
		ct.Int64Contents = make([]int64, 0, hint)
	case dataUint32:
		ct.UintContents = make([]uint32, 0, hint)
	case dataUint64:
		ct.Uint64Contents = make([]uint64, 0, hint)
	}
	if !parseDataArray(c, kind, ct) {
		return apierr.New(apierr.RestCouldNotParseInput)
	}
	return nil
}

func parseDataArray(c *rjson.Cursor, kind int, ct *kpb.InferTensorContents) bool {
	if !c.EnterArray() {
		return false
	}
	if !c.NextElement() {
		return true
	}
	for {
		k := c.Kind()
		switch {
		case k == rjson.KindArray:
			if !parseDataArray(c, kind, ct) {
				return false
			}
		case kind == dataBool:
			if k != rjson.KindTrue && k != rjson.KindFalse {
				return false
			}
			ct.BoolContents = append(ct.BoolContents, c.Bool())
		case kind == dataBytes:
			if k != rjson.KindString {
				return false
			}
			ct.BytesContents = append(ct.BytesContents, cBytes(c.String()))
		case k != rjson.KindNumber:
			return false
		default:
			// A run of numbers, up to the end of the array (done) or to
			// an element that is not a number (the cursor on it).
			done, ok := appendData(c, kind, ct)
			if !ok {
				return false
			}
			if done {
				return true
			}
			continue
		}
		if !c.NextElement() {
			return true
		}
	}
}

// appendData appends the run of numbers at the cursor to the contents of
// kind, converted as KFSRestParser does: GetDouble for floats, integer
// kinds only from integers in their range (unsigned ones from no negative
// integer but -0).
func appendData(c *rjson.Cursor, kind int, ct *kpb.InferTensorContents) (done, ok bool) {
	ok = true
	switch kind {
	case dataFP32:
		ct.Fp32Contents, _, done = rjson.AppendFloats(c, ct.Fp32Contents, fp32Value)
	case dataFP64:
		ct.Fp64Contents, _, done = rjson.AppendFloats(c, ct.Fp64Contents, rjson.Number.Float64)
	case dataInt32:
		ct.IntContents, _, done, ok = rjson.AppendInts(c, ct.IntContents, false, int32Value)
	case dataInt64:
		ct.Int64Contents, _, done, ok = rjson.AppendInts(c, ct.Int64Contents, false, int64Value)
	case dataUint32:
		ct.UintContents, _, done, ok = rjson.AppendInts(c, ct.UintContents, true, uint32Value)
	case dataUint64:
		ct.Uint64Contents, _, done, ok = rjson.AppendInts(c, ct.Uint64Contents, true, uint64Value)
	default:
		return false, false
	}
	return done, ok
}

func fp32Value(n rjson.Number) float32 { return float32(n.Float64()) }

func int32Value(n rjson.Number) (int32, bool) { return int32(n.Int64()), n.IsInt() }

func int64Value(n rjson.Number) (int64, bool) { return n.Int64(), n.IsInt64() }

func uint32Value(n rjson.Number) (uint32, bool) { return uint32(n.Uint64()), n.IsUint() }

func uint64Value(n rjson.Number) (uint64, bool) { return n.Uint64(), n.IsUint64() }

// binaryInputs is OVMS's handleBinaryInputs: inputs with a
// binary_data_size, or without data, take their bytes from buf in order.
func (r *InferRequest) binaryInputs(buf []byte) error {
	off := uint64(0)
	for i, in := range r.inputs {
		if kserve.HasShm(in.GetParameters()) {
			continue // its bytes are in client shared memory
		}
		empty := inputEmpty(in)
		var size uint64
		if p, ok := r.params[i]["binary_data_size"]; ok {
			if !empty {
				return apierr.New(apierr.RestContentsFieldNotEmpty)
			}
			if p.kind != 'i' {
				return apierr.New(apierr.RestBinaryDataSizeParameterInvalid)
			}
			size = uint64(p.i) // a negative size wraps, as size_t does, and then exceeds
		} else {
			if !empty {
				continue
			}
			if len(r.inputs) == 1 && in.Datatype == "BYTES" {
				size = uint64(len(buf))
			} else {
				size = binarySize(in)
			}
		}
		if size > uint64(len(buf)) || off > uint64(len(buf))-size {
			return apierr.New(apierr.RestBinaryBufferExceeded)
		}
		r.raw = append(r.raw, buf[off:off+size:off+size])
		off += size
	}
	return nil
}

// inputEmpty is OVMS's isInputEmpty: no contents of the datatype's kind
// (unknown datatypes count as empty).
func inputEmpty(in *kpb.ModelInferRequest_InferInputTensor) bool {
	ct := in.GetContents()
	switch in.Datatype {
	case "FP32":
		return len(ct.GetFp32Contents()) == 0
	case "FP64":
		return len(ct.GetFp64Contents()) == 0
	case "INT8", "INT16", "INT32":
		return len(ct.GetIntContents()) == 0
	case "INT64":
		return len(ct.GetInt64Contents()) == 0
	case "UINT8", "UINT16", "UINT32":
		return len(ct.GetUintContents()) == 0
	case "UINT64":
		return len(ct.GetUint64Contents()) == 0
	case "BOOL":
		return len(ct.GetBoolContents()) == 0
	case "BYTES":
		return len(ct.GetBytesContents()) == 0
	}
	return true
}

// binarySize is prod(shape) * element size (BYTES counts 1 byte, unknown
// datatypes 0); an overflow gives a size no buffer has.
func binarySize(in *kpb.ModelInferRequest_InferInputTensor) uint64 {
	var elem uint64 = 1
	if in.Datatype != "BYTES" {
		dt, _ := tensor.FromKServe(in.Datatype)
		elem = uint64(dt.Size())
	}
	n := elem
	for _, d := range in.Shape {
		if d != 0 && n > math.MaxUint64/uint64(d) {
			return math.MaxUint64
		}
		n *= uint64(d)
	}
	return n
}
