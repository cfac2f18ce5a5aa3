package cli

import (
	"testing"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
)

// requireORT loads ONNX Runtime for a test that needs it and fails the test
// when it cannot: make test fetches the library first, so a missing one is
// a broken setup, not a reason to skip.
func requireORT(t testing.TB) {
	t.Helper()
	if err := ort.Init(""); err != nil {
		t.Fatal("ONNX Runtime is needed (make test fetches it):", err)
	}
}
