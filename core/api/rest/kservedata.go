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
// contents once; g bounds what is kept (values past the input's cap are
// counted in g.excess; past the budget the parse fails with g.err).
func parseData(c *rjson.Cursor, datatype string, ct *kpb.InferTensorContents, hint int, g *gate) error {
	kind, ok := jsonDatatypes[datatype]
	if !ok {
		return apierr.New(apierr.RestUnsupportedPrecision)
	}
	g.hint = hint
	switch kind {
	case dataFP32, dataInt32, dataUint32:
		g.size = 4
	case dataFP64, dataInt64, dataUint64:
		g.size = 8
	case dataBytes:
		g.size = tensor.StringOverhead
	}
	if !parseDataArray(c, kind, ct, g) {
		if g.err != nil {
			return g.err
		}
		return apierr.New(apierr.RestCouldNotParseInput)
	}
	return nil
}

func parseDataArray(c *rjson.Cursor, kind int, ct *kpb.InferTensorContents, g *gate) bool {
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
			if !parseDataArray(c, kind, ct, g) {
				return false
			}
		case kind == dataBool:
			if k != rjson.KindTrue && k != rjson.KindFalse {
				return false
			}
			if !push(&ct.BoolContents, c.Bool(), g) {
				return false
			}
		case kind == dataBytes:
			if k != rjson.KindString {
				return false
			}
			if !pushString(&ct.BytesContents, cBytes(c.String()), g) {
				return false
			}
		case k != rjson.KindNumber:
			return false
		default:
			// A run of numbers, up to the end of the array (done) or to
			// an element that is not a number (the cursor on it).
			done, ok := appendData(c, kind, ct, g)
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
// kind within g, converted as KFSRestParser does: GetDouble for floats,
// integer kinds only from integers in their range (unsigned ones from no
// negative integer but -0).
func appendData(c *rjson.Cursor, kind int, ct *kpb.InferTensorContents, g *gate) (done, ok bool) {
	switch kind {
	case dataFP32:
		_, done, ok = readRun(c, &ct.Fp32Contents, g, fp32Reader)
	case dataFP64:
		_, done, ok = readRun(c, &ct.Fp64Contents, g, fp64Reader)
	case dataInt32:
		_, done, ok = readRun(c, &ct.IntContents, g, int32Reader)
	case dataInt64:
		_, done, ok = readRun(c, &ct.Int64Contents, g, int64Reader)
	case dataUint32:
		_, done, ok = readRun(c, &ct.UintContents, g, uint32Reader)
	case dataUint64:
		_, done, ok = readRun(c, &ct.Uint64Contents, g, uint64Reader)
	default:
		return false, false
	}
	return done, ok
}

// The readers of KServe JSON data.
var (
	fp32Reader   = floats(fp32Value)
	fp64Reader   = floats(rjson.Number.Float64)
	int32Reader  = ints(false, int32Value)
	int64Reader  = ints(false, int64Value)
	uint32Reader = ints(true, uint32Value)
	uint64Reader = ints(true, uint64Value)
)

func fp32Value(n rjson.Number) float32 { return float32(n.Float64()) }

func int32Value(n rjson.Number) (int32, bool) { return int32(n.Int64()), n.IsInt() }

func int64Value(n rjson.Number) (int64, bool) { return n.Int64(), n.IsInt64() }

func uint32Value(n rjson.Number) (uint32, bool) { return uint32(n.Uint64()), n.IsUint() }

func uint64Value(n rjson.Number) (uint64, bool) { return n.Uint64(), n.IsUint64() }

// binaryInputs is OVMS's handleBinaryInputs: inputs with a
// binary_data_size, or without data, take their bytes from buf in order.
// They stay views of the body, which the arena write copies once.
func (r *InferRequest) binaryInputs(buf binaryPart) error {
	off, total := uint64(0), uint64(buf.Len())
	for i, in := range r.inputs {
		if kserve.HasShm(in.GetParameters()) {
			continue // its bytes are in client shared memory
		}
		empty := inputEmpty(in) && r.excess[i] == 0
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
				size = total
			} else {
				size = binarySize(in)
			}
		}
		if size > total || off > total-size {
			return apierr.New(apierr.RestBinaryBufferExceeded)
		}
		r.parts = append(r.parts, buf.Parts(int(off), int(size)))
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
