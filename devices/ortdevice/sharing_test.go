package ortdevice

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	om "github.com/ovmsgo/ovms/devices/onnxmodel"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestPrepackedShared: versions with identical files, and a model's
// streams, get one prepacked weights container, which goes when the last
// of them is unloaded; another content gets its own, and so does the same
// file reshaped (the content compiled differs).
func TestPrepackedShared(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	write := func(name string, n int64) string {
		g := om.NewGraph("id")
		g.Output(g.Input("x", om.Float32, -1, n), "x", om.Float32, -1, n)
		m, err := g.Model(13)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := om.WriteFile(filepath.Join(p, "model.onnx"), m); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1, v2, other := write("v1", 2), write("v2", 2), write("other", 3)
	set := &prepackedSet{}
	eo := engineOpts{prepacked: set}
	log := logrus.NewEntry(logrus.New())
	load := func(req *device.LoadRequest) *model {
		t.Helper()
		m, err := loadModel(context.Background(), req, "", eo, log)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := load(&device.LoadRequest{Path: v1, PluginConfig: map[string]string{"NUM_STREAMS": "2"}})
	b := load(&device.LoadRequest{Path: v2})
	if n := set.len(); n != 1 {
		t.Errorf("two versions with identical files: %d containers, want 1", n)
	}
	c := load(&device.LoadRequest{Path: other})
	d := load(&device.LoadRequest{Path: v1, BatchSize: 4})
	if n := set.len(); n != 3 {
		t.Errorf("with another model and a reshaped copy: %d containers, want 3", n)
	}
	a.close()
	if n := set.len(); n != 3 {
		t.Errorf("after unloading one of the identical versions: %d containers, want 3", n)
	}
	b.close()
	c.close()
	d.close()
	if n := set.len(); n != 0 {
		t.Errorf("after unloading everything: %d containers, want 0", n)
	}
}
