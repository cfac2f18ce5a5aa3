package ortdevice

import (
	"testing"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// runXY runs one of m's sessions on x, a float32 tensor of the shape given
// by raw bytes, and returns a copy of output y's bytes.
func runXY(t *testing.T, m *model, shape []int64, raw []byte) []byte {
	t.Helper()
	in, err := ort.NewTensorCopy(ort.Float32, shape, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outs := make([]*ort.Value, 1)
	s := <-m.sessions
	err = s.Run([]string{"x"}, []*ort.Value{in}, []string{"y"}, outs)
	m.sessions <- s
	if err != nil {
		t.Fatal(err)
	}
	defer outs[0].Close()
	return append([]byte(nil), outs[0].Bytes()...)
}

// requireORT loads ONNX Runtime for a test that needs it and fails the test
// when it cannot: make test fetches the library first, so a missing one is
// a broken setup, not a reason to skip.
func requireORT(t testing.TB) {
	t.Helper()
	if err := ort.Init(""); err != nil {
		t.Fatal("ONNX Runtime is needed (make test fetches it):", err)
	}
}
