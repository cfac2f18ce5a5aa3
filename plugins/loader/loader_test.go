package loader_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
	"github.com/ovmsgo/ovms/plugins/loader"
	"github.com/ovmsgo/ovms/plugins/loader/loadertest"
)

func TestReadVersion(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"model.xml": "x", "model.bin": "b", "notes.txt": "n", "m.onnx.enc": "e"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.onnx")); err != nil {
		t.Fatal(err)
	}
	if _, err := loader.ReadVersion(dir, ""); err == nil || !strings.Contains(err.Error(), "zero.onnx") {
		t.Errorf("a link to a device was read: %v", err)
	}
	os.Remove(filepath.Join(dir, "zero.onnx"))
	files, err := loader.ReadVersion(dir, "")
	if err != nil || len(files) != 2 || files[0].Name != "model.bin" || files[1].Name != "model.xml" || string(files[1].Data) != "x" {
		t.Errorf("ReadVersion = %v, %v", files, err)
	}
	files, err = loader.ReadVersion(dir, ".enc")
	if err != nil || len(files) != 1 || files[0].Name != "m.onnx" || string(files[0].Data) != "e" {
		t.Errorf("ReadVersion .enc = %v, %v", files, err)
	}
	if _, err := loader.ReadVersion(t.TempDir(), ".enc"); err == nil || !strings.Contains(err.Error(), "each ending in .enc") {
		t.Errorf("empty folder: %v", err)
	}
}

// options echoes the option "x" as its file's contents.
type options struct{ loader.Base }

func (options) Load(_ context.Context, req *loader.Request) ([]loader.File, error) {
	if req.Option("fail") != "" {
		return nil, errors.New("refused: " + req.Option("fail"))
	}
	return []loader.File{{Name: "model.onnx", Data: []byte(req.Option("x") + "@" + req.Path)}}, nil
}

func TestServeShim(t *testing.T) {
	var gotConfig string
	c := loadertest.Start(t, func(cfg string, _ *logrus.Entry) (loader.Loader, error) {
		gotConfig = cfg
		return options{}, nil
	}, "/etc/loader.json")
	if gotConfig != "/etc/loader.json" {
		t.Errorf("factory got config %q", gotConfig)
	}
	ctx := context.Background()
	files, err := c.Load(ctx, loaderhost.Request{Name: "m", Version: 3, Path: "/p/3", OptionsJSON: `{"loader_name":"o","x":"hello"}`})
	if err != nil || len(files) != 1 || string(files[0].Data) != "hello@/p/3" {
		t.Errorf("Load = %v, %v", files, err)
	}
	_, err = c.Load(ctx, loaderhost.Request{Name: "m", Version: 3, OptionsJSON: `{"fail":"no licence"}`})
	if err == nil || err.Error() != "refused: no licence" {
		t.Errorf("a Load error reaches the host as the loader's words: %v", err)
	}
	if name, _, err := c.Info(ctx); err != nil || name != "loadertest" {
		t.Errorf("Info = %q, %v", name, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, loaderhost.Request{Name: "m"}); err == nil || !strings.Contains(err.Error(), "not initialized") {
		t.Errorf("Load after Close: %v", err)
	}
	if err := c.Init(ctx, "/etc/other.json"); err != nil || gotConfig != "/etc/other.json" {
		t.Errorf("Init again: %v, config %q", err, gotConfig)
	}
}

func TestOneModel(t *testing.T) {
	for files, want := range map[string]string{
		"model.onnx":                     "",
		"model.xml model.bin":            "",
		"model.xml other.bin":            "not named like",
		"a.onnx b.onnx":                  "want one .onnx file",
		"model.xml model.bin extra.onnx": "want one .onnx file",
	} {
		var fs []loaderhost.File
		for _, n := range strings.Fields(files) {
			fs = append(fs, loaderhost.File{Name: n, Data: []byte("x")})
		}
		got := loadertest.OneModel(fs)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", files, got, want)
		}
	}
}

// blocking's Load waits for release; Close records whether a Load was
// running.
type blocking struct {
	loader.Base
	started, release chan struct{}
	mu               sync.Mutex
	running          int
	closedInLoad     bool
}

func (b *blocking) Load(context.Context, *loader.Request) ([]loader.File, error) {
	b.mu.Lock()
	b.running++
	b.mu.Unlock()
	defer func() { b.mu.Lock(); b.running--; b.mu.Unlock() }()
	b.started <- struct{}{}
	<-b.release
	return []loader.File{{Name: "model.onnx", Data: []byte("x")}}, nil
}

func (b *blocking) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closedInLoad = b.closedInLoad || b.running > 0
	return nil
}

// Close (loaderDeInit) waits for the calls running on the loader: it never
// closes it under a Load.
func TestCloseWaitsForLoad(t *testing.T) {
	b := &blocking{started: make(chan struct{}), release: make(chan struct{})}
	c := loadertest.Start(t, func(string, *logrus.Entry) (loader.Loader, error) { return b, nil }, "")
	ctx := context.Background()
	loaded := make(chan error, 1)
	go func() {
		_, err := c.Load(ctx, loaderhost.Request{Name: "m", Version: 1})
		loaded <- err
	}()
	<-b.started
	closed := make(chan error, 1)
	go func() { closed <- c.Close(ctx) }()
	time.Sleep(100 * time.Millisecond) // Close has reached the loader
	close(b.release)
	if err := <-loaded; err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closedInLoad {
		t.Error("the loader was closed while a Load ran on it")
	}
}
