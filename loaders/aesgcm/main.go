// Command ovms-loader-aesgcm is a custom model loader that serves model
// files encrypted with AES-256-GCM: each model file of a version folder is
// stored as <file>.enc (model.onnx.enc, or model.xml.enc with
// model.bin.enc) and decrypted in memory only; the plain bytes go to the
// device plugin over its control channel and are never written to disk.
//
// The 32-byte key comes from a file or an environment variable, named in
// the model's custom_loader_options or in the loader_config_file (a JSON
// object with the same keys); the model's options win:
//
//	"custom_loader_options": {"loader_name": "aesgcm", "key_file": "/run/secrets/model.key"}
//	"custom_loader_options": {"loader_name": "aesgcm", "key_env": "MODEL_KEY"}
//
// A key is 64 hex digits (or 32 raw bytes in a key file). A wrong key
// fails the load with an error naming the model, the version and the
// file. `ovms-loader-aesgcm keygen KEYFILE` writes a new key and
// `ovms-loader-aesgcm encrypt -key-file KEYFILE FILE...` (or -key-env
// VAR) writes FILE.enc beside each file.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/loader"
	"github.com/ovmsgo/ovms/plugins/modelfile"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(command(os.Args[1], os.Args[2:]))
	}
	loader.Serve("aesgcm", newAESGCM)
}

// keySource names where a key is: a file or an environment variable.
type keySource struct {
	KeyFile string `json:"key_file"`
	KeyEnv  string `json:"key_env"`
}

// aesgcm decrypts model files; def is the loader config file's key source.
type aesgcm struct {
	loader.Base
	def keySource
	log *logrus.Entry
}

// newAESGCM reads the optional loader config file (a JSON object with
// key_file or key_env; a relative key_file is relative to the config file).
func newAESGCM(configFile string, log *logrus.Entry) (loader.Loader, error) {
	a := &aesgcm{log: log}
	if configFile == "" {
		return a, nil
	}
	data, err := modelfile.ReadFile(configFile, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("reading loader config: %w", err)
	}
	if err := json.Unmarshal(data, &a.def); err != nil {
		return nil, fmt.Errorf("loader config %s: %w", configFile, err)
	}
	if a.def.KeyFile != "" && !filepath.IsAbs(a.def.KeyFile) {
		a.def.KeyFile = filepath.Join(filepath.Dir(configFile), a.def.KeyFile)
	}
	return a, nil
}

// source is the key source for a model: its options, else the config's.
// A relative key_file option is relative to the model's base path.
func (a *aesgcm) source(m *loader.Model) keySource {
	s := keySource{KeyFile: m.Option("key_file"), KeyEnv: m.Option("key_env")}
	if s.KeyFile == "" && s.KeyEnv == "" {
		return a.def
	}
	if s.KeyFile != "" && !filepath.IsAbs(s.KeyFile) {
		s.KeyFile = filepath.Join(m.BasePath, s.KeyFile)
	}
	return s
}

// Load decrypts every <file>.enc of the version folder in memory.
func (a *aesgcm) Load(ctx context.Context, req *loader.Request) ([]loader.File, error) {
	key, err := readKey(a.source(&req.Model))
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: %w", req.Name, req.Version, err)
	}
	files, err := loader.ReadVersion(req.Path, encSuffix)
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: %w", req.Name, req.Version, err)
	}
	for i := range files {
		if files[i].Data, err = decrypt(key, files[i].Name, files[i].Data); err != nil {
			clear(key)
			return nil, fmt.Errorf("model %s version %d: %s%s: %w", req.Name, req.Version, files[i].Name, encSuffix, err)
		}
	}
	clear(key)
	return files, nil
}
