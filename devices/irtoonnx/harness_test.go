package irtoonnx

import (
	"encoding/binary"
	"math"
	"sync"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// The test harness: build an IR net with irtest, translate it, run the ONNX
// model in ONNX Runtime (the real library, in this process), and compare
// with values computed in Go from the op's specification.

var (
	ortOnce sync.Once
	ortErr  error
)

func initORT(t testing.TB) {
	t.Helper()
	ortOnce.Do(func() {
		path, err := ort.FindLibrary()
		if err != nil {
			ortErr = err
			return
		}
		ortErr = ort.Init(path)
	})
	if ortErr != nil {
		t.Fatal(ortErr)
	}
}

// feed is one named input tensor.
type feed struct {
	name  string
	typ   irmodel.ElementType
	shape []int64
	raw   []byte
}

// f32 is an f32 feed.
func f32(name string, shape []int64, vals ...float32) feed {
	return feed{name, irmodel.F32, shape, f32bytes(vals)}
}

// i64 is an i64 feed.
func i64(name string, shape []int64, vals ...int64) feed {
	b := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return feed{name, irmodel.I64, shape, b}
}

// i32 is an i32 feed.
func i32(name string, shape []int64, vals ...int32) feed {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return feed{name, irmodel.I32, shape, b}
}

func f32bytes(vals []float32) []byte {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// output is one result tensor.
type output struct {
	typ   ort.ElementType
	shape []int64
	raw   []byte
}

// F32 reads the output as float32 values.
func (o output) F32() []float32 {
	out := make([]float32, len(o.raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(o.raw[4*i:]))
	}
	return out
}

// I64 reads the output as int64 values.
func (o output) I64() []int64 {
	out := make([]int64, len(o.raw)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(o.raw[8*i:]))
	}
	return out
}

// I32 reads the output as int32 values.
func (o output) I32() []int32 {
	out := make([]int32, len(o.raw)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(o.raw[4*i:]))
	}
	return out
}

// translateNet parses and translates the net, failing t on any error.
func translateNet(t testing.TB, n *irtest.Net) *Result {
	t.Helper()
	x, bin := n.Bytes()
	m, err := irmodel.Parse(x, bin)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, x)
	}
	r, err := Translate(m, Options{})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	return r
}

// run translates the net, runs it on feeds and returns its outputs by ONNX
// output name.
func run(t testing.TB, n *irtest.Net, feeds ...feed) map[string]output {
	t.Helper()
	initORT(t)
	r := translateNet(t, n)
	data, err := onnxmodel.Marshal(r.Model)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the translated model: %v", err)
	}
	defer s.Close()
	var names []string
	var vals []*ort.Value
	for _, f := range feeds {
		v, err := ort.NewTensorCopy(ort.ElementType(f.typ.ONNX()), f.shape, f.raw)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		names = append(names, f.name)
		vals = append(vals, v)
	}
	var outNames []string
	for _, o := range r.Outputs {
		outNames = append(outNames, o.Name)
	}
	outs := make([]*ort.Value, len(outNames))
	if err := s.Run(names, vals, outNames, outs); err != nil {
		t.Fatalf("run: %v", err)
	}
	res := map[string]output{}
	for i, v := range outs {
		res[outNames[i]] = output{typ: v.Type(), shape: v.Shape(), raw: append([]byte(nil), v.Bytes()...)}
		v.Close()
	}
	return res
}

// near fails t unless got and want agree within tol (absolute, and
// relative for large values).
func near(t testing.TB, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		gotNaN, wantNaN := math.IsNaN(float64(got[i])), math.IsNaN(float64(want[i]))
		if gotNaN && wantNaN {
			continue
		}
		if gotNaN || wantNaN || d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %g, want %g (and %d more values)", what, i, got[i], want[i], len(got)-i-1)
		}
	}
}
