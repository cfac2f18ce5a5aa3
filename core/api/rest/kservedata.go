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
// each element must have the JSON type of the datatype.
func parseData(c *rjson.Cursor, datatype string, ct *kpb.InferTensorContents) error {
	kind, ok := jsonDatatypes[datatype]
	if !ok {
		return apierr.New(apierr.RestUnsupportedPrecision)
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
	for c.NextElement() {
		k := c.Kind()
		switch {
		case k == rjson.KindArray:
			if !parseDataArray(c, kind, ct) {
				return false
			}
			continue
		case kind == dataBool:
			if k != rjson.KindTrue && k != rjson.KindFalse {
				return false
			}
			ct.BoolContents = append(ct.BoolContents, c.Bool())
			continue
		case kind == dataBytes:
			if k != rjson.KindString {
				return false
			}
			ct.BytesContents = append(ct.BytesContents, cBytes(c.String()))
			continue
		case k != rjson.KindNumber:
			return false
		}
		n := c.Number()
		switch kind {
		case dataFP32:
			ct.Fp32Contents = append(ct.Fp32Contents, float32(n.Float64()))
		case dataFP64:
			ct.Fp64Contents = append(ct.Fp64Contents, n.Float64())
		case dataInt32:
			if !n.IsInt() {
				return false
			}
			ct.IntContents = append(ct.IntContents, int32(n.Int64()))
		case dataInt64:
			if !n.IsInt64() {
				return false
			}
			ct.Int64Contents = append(ct.Int64Contents, n.Int64())
		case dataUint32:
			if !n.IsUint() {
				return false
			}
			ct.UintContents = append(ct.UintContents, uint32(n.Uint64()))
		case dataUint64:
			if !n.IsUint64() {
				return false
			}
			ct.Uint64Contents = append(ct.Uint64Contents, n.Uint64())
		}
	}
	return true
}

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
