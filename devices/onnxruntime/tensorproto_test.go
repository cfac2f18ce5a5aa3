package onnxruntime

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
	"google.golang.org/protobuf/proto"
)

// tensorData is a dense tensor read from an ONNX TensorProto: raw
// little-endian element bytes, or strs for STRING.
type tensorData struct {
	name  string
	typ   ElementType
	shape []int64
	raw   []byte
	strs  [][]byte
}

func readTensorPB(path string) (*tensorData, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(b, &tp); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return fromTensorProto(&tp)
}

// fromTensorProto decodes raw_data or the typed fields, as the ONNX spec
// lays them out: 8- and 16-bit types, bool, float16 and bfloat16 in
// int32_data; uint32 and uint64 in uint64_data; complex as float pairs.
func fromTensorProto(tp *onnxpb.TensorProto) (*tensorData, error) {
	t := &tensorData{name: tp.GetName(), typ: ElementType(tp.GetDataType()), shape: tp.GetDims()}
	if t.shape == nil {
		t.shape = []int64{}
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("tensor %q: external data", t.name)
	}
	n := numElements(t.shape)
	if t.typ == String {
		t.strs = tp.GetStringData()
		if int64(len(t.strs)) != n {
			return nil, fmt.Errorf("tensor %q: %d strings for shape %v", t.name, len(t.strs), t.shape)
		}
		return t, nil
	}
	if !t.typ.Valid() || t.typ.Size() == 0 {
		return nil, fmt.Errorf("tensor %q: unsupported element type %s", t.name, t.typ)
	}
	if tp.RawData != nil {
		t.raw = tp.RawData
	} else {
		le := binary.LittleEndian
		var b []byte
		switch t.typ {
		case Float32, Complex64:
			for _, v := range tp.GetFloatData() {
				b = le.AppendUint32(b, math.Float32bits(v))
			}
		case Float64, Complex128:
			for _, v := range tp.GetDoubleData() {
				b = le.AppendUint64(b, math.Float64bits(v))
			}
		case Int64:
			for _, v := range tp.GetInt64Data() {
				b = le.AppendUint64(b, uint64(v))
			}
		case Uint32:
			for _, v := range tp.GetUint64Data() {
				b = le.AppendUint32(b, uint32(v))
			}
		case Uint64:
			for _, v := range tp.GetUint64Data() {
				b = le.AppendUint64(b, v)
			}
		case Int32:
			for _, v := range tp.GetInt32Data() {
				b = le.AppendUint32(b, uint32(v))
			}
		case Uint16, Int16, Float16, BFloat16:
			for _, v := range tp.GetInt32Data() {
				b = le.AppendUint16(b, uint16(v))
			}
		default: // Uint8, Int8, Bool, float8
			for _, v := range tp.GetInt32Data() {
				b = append(b, byte(v))
			}
		}
		t.raw = b
	}
	if want := t.typ.ByteLen(n); int64(len(t.raw)) != want {
		return nil, fmt.Errorf("tensor %q: %d data bytes for %s%v, want %d", t.name, len(t.raw), t.typ, t.shape, want)
	}
	return t, nil
}

// value makes an input Value from t.
func (t *tensorData) value() (*Value, error) {
	if t.typ == String {
		return NewStringTensor(t.shape, t.strs)
	}
	return NewTensorCopy(t.typ, t.shape, t.raw)
}

// f16 decodes an IEEE 754 half.
func f16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10)&0x1f, float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac/1024, -14)
	case 31:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// floats decodes the elements of a floating-point tensor as float64
// (complex tensors as their real and imaginary parts).
func floats(typ ElementType, raw []byte) []float64 {
	le := binary.LittleEndian
	var out []float64
	switch typ {
	case Float32, Complex64:
		for i := 0; i+4 <= len(raw); i += 4 {
			out = append(out, float64(math.Float32frombits(le.Uint32(raw[i:]))))
		}
	case Float64, Complex128:
		for i := 0; i+8 <= len(raw); i += 8 {
			out = append(out, math.Float64frombits(le.Uint64(raw[i:])))
		}
	case Float16:
		for i := 0; i+2 <= len(raw); i += 2 {
			out = append(out, f16(le.Uint16(raw[i:])))
		}
	case BFloat16:
		for i := 0; i+2 <= len(raw); i += 2 {
			out = append(out, float64(math.Float32frombits(uint32(le.Uint16(raw[i:]))<<16)))
		}
	}
	return out
}

// compareValue checks got against want: element type and shape exactly;
// floating-point values within atol + rtol*|want| (NaN equals NaN, infinities
// must match); everything else byte for byte.
func compareValue(want *tensorData, got *Value, rtol, atol float64) error {
	if got.Type() != want.typ {
		return fmt.Errorf("element type %s, want %s", got.Type(), want.typ)
	}
	if fmt.Sprint(got.Shape()) != fmt.Sprint(want.shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), want.shape)
	}
	if want.typ == String {
		strs, err := got.Strings()
		if err != nil {
			return err
		}
		for i := range want.strs {
			if string(strs[i]) != string(want.strs[i]) {
				return fmt.Errorf("string %d is %q, want %q", i, strs[i], want.strs[i])
			}
		}
		return nil
	}
	raw := got.Bytes()
	if len(raw) != len(want.raw) {
		return fmt.Errorf("%d data bytes, want %d", len(raw), len(want.raw))
	}
	switch want.typ {
	case Float32, Float64, Float16, BFloat16, Complex64, Complex128:
		w, g := floats(want.typ, want.raw), floats(want.typ, raw)
		bad, worst := 0, -1
		for i := range w {
			switch {
			case math.IsNaN(w[i]) && math.IsNaN(g[i]), w[i] == g[i]:
			case math.Abs(w[i]-g[i]) <= atol+rtol*math.Abs(w[i]):
			default:
				bad++
				if worst < 0 || math.IsNaN(g[i]) || math.Abs(w[i]-g[i]) > math.Abs(w[worst]-g[worst]) {
					worst = i
				}
			}
		}
		if bad > 0 {
			return fmt.Errorf("%d of %d values differ; worst at %d: got %g, want %g", bad, len(w), worst, g[worst], w[worst])
		}
	default:
		for i := range raw {
			if raw[i] != want.raw[i] {
				return fmt.Errorf("byte %d is %#x, want %#x", i, raw[i], want.raw[i])
			}
		}
	}
	return nil
}
