package ortdevice

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/device"
)

// TestLoadModelFilesFromMemory: model files a custom loader hands over
// (ModelFiles) are loaded without reading the version folder (which here
// is empty): an IR's .xml and .bin, and an .onnx file; a set that is not
// one model fails naming the files.
func TestLoadModelFilesFromMemory(t *testing.T) {
	requireORT(t)
	src := t.TempDir()
	writeIR(t, src, plusOne())
	writeONNXIdentity(t, filepath.Join(src, "id.onnx"), "x")
	read := func(name string) device.ModelFile {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return device.ModelFile{Name: name, Data: data}
	}
	empty := t.TempDir()
	log := logrus.NewEntry(logrus.New())
	for name, c := range map[string]struct {
		files []device.ModelFile
		in    string
	}{
		"ir":   {[]device.ModelFile{read("model.xml"), read("model.bin")}, "b"},
		"onnx": {[]device.ModelFile{read("id.onnx")}, "x"},
	} {
		m, err := loadModel(context.Background(), &device.LoadRequest{Path: empty, ModelFiles: c.files}, "", engineOpts{}, log)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(m.info.Inputs) != 1 || m.info.Inputs[0].Name != c.in {
			t.Errorf("%s: inputs %+v", name, m.info.Inputs)
		}
		m.close()
	}
	for name, files := range map[string][]device.ModelFile{
		"two models":  {read("model.xml"), read("model.bin"), read("id.onnx")},
		"no weights":  {read("model.xml")},
		"wrong .bin":  {read("model.xml"), {Name: "other.bin", Data: read("model.bin").Data}},
		"not a model": {{Name: "readme.txt", Data: []byte("x")}},
	} {
		_, err := loadModel(context.Background(), &device.LoadRequest{Path: empty, ModelFiles: files}, "", engineOpts{}, log)
		if err == nil || !strings.Contains(err.Error(), "model files from the custom loader (") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
