// Command ovms-loader-example is the documented minimal custom model
// loader (docs/custom-loaders.md includes this file verbatim). It serves a
// version's model files as they are, and retires a version while the file
// named by the model's "enable_file" option, in the version folder,
// contains DISABLED, as OVMS's sample loader does:
//
//	"custom_loader_options": {"loader_name": "example", "enable_file": "status"}
package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/loader"
)

func main() { loader.Serve("example", newExample) }

// example keeps nothing between calls; Base gives it no-op Unload and Close.
type example struct{ loader.Base }

// newExample is the loader.Factory: this loader needs no config file.
func newExample(configFile string, log *logrus.Entry) (loader.Loader, error) {
	return &example{}, nil
}

// Load returns the version folder's .onnx file, or its IR .xml and .bin.
func (e *example) Load(ctx context.Context, req *loader.Request) ([]loader.File, error) {
	return loader.ReadVersion(req.Path, "")
}

// Retired lists the versions whose enable_file says DISABLED.
func (e *example) Retired(ctx context.Context, m *loader.Model, versions []int64) ([]int64, error) {
	name := m.Option("enable_file")
	if name == "" {
		return nil, nil
	}
	var out []int64
	for _, v := range versions {
		status, err := os.ReadFile(filepath.Join(m.BasePath, strconv.FormatInt(v, 10), name))
		if err == nil && bytes.Contains(status, []byte("DISABLED")) {
			out = append(out, v)
		}
	}
	return out, nil
}
