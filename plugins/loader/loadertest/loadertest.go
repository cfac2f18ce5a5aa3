// Package loadertest is the contract-test kit for custom loader authors: it
// serves a loader.Factory in the test process through the SDK's real gRPC
// shim (over an in-memory connection) and checks what ovms relies on.
//
//	func TestContract(t *testing.T) {
//		loadertest.Contract(t, newExample, loadertest.Case{BasePath: "testdata/model", Version: 1})
//	}
//
// Start gives the host's client for a loader's own tests.
package loadertest

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
	"github.com/ovmsgo/ovms/plugins/loader"
)

// Start serves factory in process, initialized with configFile, and
// returns the client ovms would use; everything is closed with the test.
func Start(t testing.TB, factory loader.Factory, configFile string) *loaderhost.Client {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	conn, _ := plugin.TestPluginGRPCConn(t, true, map[string]plugin.Plugin{
		loaderhost.PluginName: &loaderhost.Plugin{Register: loader.Register("loadertest", factory, log.WithField("plugin", "loadertest"))},
	})
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.Dispense(loaderhost.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*loaderhost.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Init(ctx, configFile); err != nil {
		t.Fatalf("Init(%q): %v", configFile, err)
	}
	return c
}

// Case is one model version the loader must serve.
type Case struct {
	// ConfigFile is the loader_config_file ("" for none).
	ConfigFile string
	// Name is the model name ("" = "model").
	Name string
	// BasePath holds the version folders; Version is the one to load.
	BasePath string
	Version  int64
	// Options are custom_loader_options (loader_name is added).
	Options map[string]any
}

// Contract checks a loader on one case: Load returns one .onnx file or an
// IR's .xml with its .bin; Load of a missing version fails; Retired
// answers only with versions it was asked about; Unload and Close succeed.
func Contract(t *testing.T, factory loader.Factory, c Case) {
	t.Helper()
	if c.Name == "" {
		c.Name = "model"
	}
	opts := map[string]any{"loader_name": "loadertest"}
	for k, v := range c.Options {
		opts[k] = v
	}
	js, err := json.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	cl := Start(t, factory, c.ConfigFile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := loaderhost.Request{Name: c.Name, BasePath: c.BasePath, Version: c.Version,
		Path: filepath.Join(c.BasePath, strconv.FormatInt(c.Version, 10)), OptionsJSON: string(js)}
	files, err := cl.Load(ctx, req)
	if err != nil {
		t.Fatalf("Load(%s version %d): %v", c.Name, c.Version, err)
	}
	if err := OneModel(files); err != "" {
		t.Errorf("Load(%s version %d): %s", c.Name, c.Version, err)
	}
	missing := req
	missing.Version, missing.Path = 1<<40, filepath.Join(c.BasePath, "does-not-exist")
	if _, err := cl.Load(ctx, missing); err == nil {
		t.Errorf("Load of a version with no folder succeeded")
	}
	asked := []int64{c.Version, c.Version + 1}
	retired, err := cl.Retired(ctx, req, asked)
	if err != nil {
		t.Errorf("Retired: %v", err)
	}
	for _, v := range retired {
		if !slices.Contains(asked, v) {
			t.Errorf("Retired(%v) answered version %d, which it was not asked about", asked, v)
		}
	}
	if err := cl.Unload(ctx, c.Name, c.Version); err != nil {
		t.Errorf("Unload: %v", err)
	}
	if err := cl.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// OneModel says what is wrong with a Load answer ("" when it is one
// model: one .onnx file, or one .xml with the .bin of the same name).
func OneModel(files []loaderhost.File) string {
	var onnx, xml, bin []string
	for _, f := range files {
		switch strings.ToLower(filepath.Ext(f.Name)) {
		case ".onnx":
			onnx = append(onnx, f.Name)
		case ".xml":
			xml = append(xml, f.Name)
		case ".bin":
			bin = append(bin, f.Name)
		}
		if len(f.Data) == 0 {
			return "file " + f.Name + " is empty"
		}
	}
	switch {
	case len(onnx) == 1 && len(xml) == 0:
		return ""
	case len(xml) == 1 && len(bin) == 1 && len(onnx) == 0:
		if strings.TrimSuffix(xml[0], filepath.Ext(xml[0])) != strings.TrimSuffix(bin[0], filepath.Ext(bin[0])) {
			return "the IR's .bin is not named like its .xml"
		}
		return ""
	}
	return "want one .onnx file or one .xml with its .bin, got " + strings.Join(append(append(onnx, xml...), bin...), ", ")
}
