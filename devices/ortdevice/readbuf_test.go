package ortdevice

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestReadBufferRecycled: the buffer an .onnx file was read into goes
// back to readBuffers when its load ends, and the loaded model does not
// depend on it: overwriting every recycled buffer leaves the model
// computing with its own weights (y = x + c, c in the file), and the next
// load reads into a recycled buffer and gets its own weights.
func TestReadBufferRecycled(t *testing.T) {
	requireORT(t)
	// One P: sync.Pool hands a buffer back first to the P that put it
	// there, and a goroutine coming back from a long cgo call (a session's
	// creation) may find itself on another one.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	log := quietLog()
	write := func(name string, c []float32) string {
		g := om.NewGraph("add_c")
		x := g.Input("x", om.Float32, 1, 4)
		g.Output(g.Node("Add", []om.Value{x, g.Constant(om.Float32Tensor("c", []int64{1, 4}, c))}), "y", om.Float32, 1, 4)
		m, err := g.Model(13)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), name, "1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := om.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	run := func(m *model) []float32 {
		t.Helper()
		raw := make([]byte, 0, 16)
		for i := range 4 {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(i)))
		}
		out := runXY(t, m, []int64{1, 4}, raw)
		got := make([]float32, 4)
		for i := range got {
			got[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
		}
		return got
	}
	check := func(what string, got []float32, c []float32) {
		t.Helper()
		for i := range got {
			if got[i] != float32(i)+c[i] {
				t.Fatalf("%s: y = %v, want x + %v", what, got, c)
			}
		}
	}
	for pooledBuffer() != nil { // an empty pool, whatever other tests left
	}

	ca, cb := []float32{1, 2, 3, 4}, []float32{100, 200, 300, 400}
	a, err := loadModel(context.Background(), &device.LoadRequest{Path: write("a", ca)}, "", engineOpts{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var recycled [][]byte
	for b := pooledBuffer(); b != nil; b = pooledBuffer() {
		recycled = append(recycled, b)
	}
	if len(recycled) != 1 {
		t.Fatalf("%d buffers recycled by one load, want 1", len(recycled))
	}
	b := recycled[0][:cap(recycled[0])]
	for i := range b {
		b[i] = 0xff
	}
	check("the first model after its read buffer was overwritten", run(a), ca)
	recycleBuffer(recycled[0])

	bm, err := loadModel(context.Background(), &device.LoadRequest{Path: write("b", cb)}, "", engineOpts{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer bm.close()
	check("the second model, read into the recycled buffer", run(bm), cb)
	check("the first model after the second load", run(a), ca)
	if again := pooledBuffer(); again == nil || &again[:1][0] != &b[0] {
		t.Error("the second load did not read into the recycled buffer, or did not give it back")
	}
}
