// Package loader is the SDK for ovms custom model loaders, the
// out-of-process equivalent of OVMS's custom loader libraries
// (custom_loader_config_list). A loader is an executable,
// ovms-loader-<name>, that turns a model version (its name, base path,
// version number and the model's custom_loader_options) into the model's
// files in memory: an .onnx file, or an OpenVINO IR's .xml and .bin. ovms
// hands those bytes to the device plugin without writing them to disk, so
// a loader can decrypt, fetch or check models. It can also retire
// versions (OVMS's blacklist, e.g. on licence expiry): ovms asks it on
// every file-system poll.
//
// An author implements Loader and serves it from main:
//
//	func main() { loader.Serve("example", newExample) }
//
// where newExample is a Factory. ReadVersion reads a version folder's model
// files; Base gives no-op Retired, Unload and Close; loadertest checks a
// loader against the contract. docs/custom-loaders.md walks through one.
package loader

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sirupsen/logrus"
)

// Model is a model served through the loader.
type Model struct {
	// Name is the model's name.
	Name string
	// BasePath is the model's base_path as configured.
	BasePath string
	// Options are the model's custom_loader_options (loader_name
	// included), as JSON values.
	Options map[string]any
}

// Option is a string option ("" when absent or not a string).
func (m *Model) Option(key string) string {
	s, _ := m.Options[key].(string)
	return s
}

// Request names the version to load.
type Request struct {
	Model
	// Version is the version number (>= 1).
	Version int64
	// Path is the version's local folder: base_path/<version>, or its
	// download for remote storage.
	Path string
}

// File is one model file in memory.
type File struct {
	// Name is the file's base name; its extension tells the format
	// (.onnx, or .xml with a .bin of the same name).
	Name string
	// Data is the file's contents.
	Data []byte
}

// Loader is what a loader plugin implements. Calls may come concurrently.
type Loader interface {
	// Load returns a version's model files: one .onnx file, or an IR's
	// .xml and .bin (OVMS's loadModel). Its error is the model version's
	// load error, shown in the server log.
	Load(ctx context.Context, req *Request) ([]File, error)
	// Retired returns those of a model's versions that must not be served
	// now (OVMS's getModelBlacklistStatus); ovms unloads them (status
	// END) and loads them again once they are no longer listed.
	Retired(ctx context.Context, model *Model, versions []int64) ([]int64, error)
	// Unload says a version is no longer served (OVMS's unloadModel).
	Unload(ctx context.Context, name string, version int64) error
	// Close ends the loader before its process stops (OVMS's
	// loaderDeInit), once the calls in progress have returned.
	Close() error
}

// Factory builds a loader from its loader_config_file (absolute, or ""
// when the configuration names none); ovms calls it once per process
// start (OVMS's loaderInit). An error fails every load through it.
type Factory func(configFile string, log *logrus.Entry) (Loader, error)

// Base gives a Loader no-op Retired, Unload and Close; embed it.
type Base struct{}

// Retired retires nothing.
func (Base) Retired(context.Context, *Model, []int64) ([]int64, error) { return nil, nil }

// Unload does nothing.
func (Base) Unload(context.Context, string, int64) error { return nil }

// Close does nothing.
func (Base) Close() error { return nil }

// parseOptions decodes custom_loader_options.
func parseOptions(s string) (map[string]any, error) {
	if s == "" {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("custom_loader_options: %w", err)
	}
	return m, nil
}
