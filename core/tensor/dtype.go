package tensor

import (
	"github.com/ovmsgo/ovms/plugins/device"
)

// DataType is the element type shared with the device plugins.
type DataType = device.DataType

type dtypeNames struct {
	kserve    string // KServe v2 datatype
	tfs       int32  // tensorflow.DataType number
	precision string // OVMS precision name used in messages
}

var names = map[DataType]dtypeNames{
	device.Float32:  {"FP32", 1, "FP32"},
	device.Float64:  {"FP64", 2, "FP64"},
	device.Int32:    {"INT32", 3, "I32"},
	device.Uint8:    {"UINT8", 4, "U8"},
	device.Int16:    {"INT16", 5, "I16"},
	device.Int8:     {"INT8", 6, "I8"},
	device.String:   {"BYTES", 7, "STRING"},
	device.Int64:    {"INT64", 9, "I64"},
	device.Bool:     {"BOOL", 10, "BOOL"},
	device.BFloat16: {"BF16", 14, "BF16"},
	device.Uint16:   {"UINT16", 17, "U16"},
	device.Float16:  {"FP16", 19, "FP16"},
	device.Uint32:   {"UINT32", 22, "U32"},
	device.Uint64:   {"UINT64", 23, "U64"},
}

var (
	byKServe = map[string]DataType{}
	byTFS    = map[int32]DataType{}
)

func init() {
	for dt, n := range names {
		byKServe[n.kserve] = dt
		byTFS[n.tfs] = dt
	}
}

// KServeName is the KServe v2 datatype string, e.g. "FP32"; "" if unknown.
func KServeName(dt DataType) string { return names[dt].kserve }

// FromKServe parses a KServe v2 datatype string.
func FromKServe(s string) (DataType, bool) { dt, ok := byKServe[s]; return dt, ok }

// TFSType is the tensorflow.DataType number, e.g. 1 for DT_FLOAT; 0 if unknown.
func TFSType(dt DataType) int32 { return names[dt].tfs }

// FromTFS maps a tensorflow.DataType number.
func FromTFS(n int32) (DataType, bool) { dt, ok := byTFS[n]; return dt, ok }

// PrecisionName is the name OVMS uses for a precision in messages, e.g. "FP32".
func PrecisionName(dt DataType) string {
	if n, ok := names[dt]; ok {
		return n.precision
	}
	return "UNDEFINED"
}
