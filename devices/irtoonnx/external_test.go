package irtoonnx

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/ovmsgo/ovms/devices/irmodel"
	"github.com/ovmsgo/ovms/devices/irmodel/irtest"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
	onnxpb "github.com/ovmsgo/ovms/proto/onnx"
)

// TestConvertFilesExternal: large constants become external data at their
// offset in the .bin, small ones and those the translator builds (u4
// unpacked) stay in the model, and the model is otherwise what
// ConvertFiles writes.
func TestConvertFilesExternal(t *testing.T) {
	n := irtest.New("ext")
	x := n.Parameter("x", irmodel.F32, "1,512")
	small := n.F32([]int64{1}, 2)
	big := make([]float32, 512)
	for i := range big {
		big[i] = float32(i)
	}
	n.F32([]int64{1}, 0) // padding so that the big one is not at offset 0
	w := n.F32([]int64{1, 512}, big...)
	packed := n.Const(irmodel.U4, []int64{4096}, bytes.Repeat([]byte{0x21}, 2048))
	attrs := map[string]string{"auto_broadcast": "numpy"}
	p := irtest.Port{Type: irmodel.F32, Shape: "1,512"}
	y := n.Op("Add", "opset1", attrs, []irtest.Out{x, w}, p)[0]
	y = n.Op("Multiply", "opset1", attrs, []irtest.Out{y, small}, p)[0]
	n.Result(y, "y")
	u := n.Op("Convert", "opset1", map[string]string{"destination_type": "f32"}, []irtest.Out{packed}, irtest.Port{Type: irmodel.F32, Shape: "4096"})[0]
	n.Result(u, "u")
	dir := t.TempDir()
	if err := n.WriteFiles(dir, "model"); err != nil {
		t.Fatal(err)
	}
	xmlPath, binPath := filepath.Join(dir, "model.xml"), filepath.Join(dir, "model.bin")
	ext, err := ConvertFilesExternal(xmlPath, binPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ext.Location != "model.bin" || ext.ExternalBytes != 2048 || len(ext.Weights) != 8+2048+2048 {
		t.Fatalf("location %q, %d external bytes, %d weight bytes", ext.Location, ext.ExternalBytes, len(ext.Weights))
	}
	m, err := onnxmodel.Parse(ext.Model)
	if err != nil {
		t.Fatal(err)
	}
	external := 0
	for _, init := range m.GetGraph().GetInitializer() {
		if init.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			continue
		}
		external++
		kv := map[string]string{}
		for _, e := range init.GetExternalData() {
			kv[e.GetKey()] = e.GetValue()
		}
		if kv["location"] != "model.bin" || kv["offset"] != "8" || kv["length"] != "2048" || len(init.GetRawData()) != 0 {
			t.Errorf("initializer %s: external data %v, %d raw bytes", init.GetName(), kv, len(init.GetRawData()))
		}
	}
	if external != 1 {
		t.Errorf("%d external initializers, want 1 (the [1,512] weight)", external)
	}
	full, _, err := ConvertFiles(xmlPath, binPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(full)-len(ext.Model) < 2048-100 { // less the external_data entries
		t.Errorf("ConvertFiles model %d bytes, external one %d: the weights were not left out", len(full), len(ext.Model))
	}
}
