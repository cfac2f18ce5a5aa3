package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// ManifestFile is the name of a plugin folder's manifest: the sha256 of
// every plugin installed there with `ovms plugin install`.
const ManifestFile = "plugins.json"

// Manifest lists installed plugins: binary file name -> sha256 (hex).
type Manifest struct {
	Plugins map[string]string `json:"plugins"`
}

// ReadManifest reads dir's manifest; a folder without one gives nil.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the plugin manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("plugin manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Plugins == nil {
		m.Plugins = map[string]string{}
	}
	return &m, nil
}

// Write saves the manifest into dir (atomically).
func (m *Manifest) Write(dir string) error {
	keys := make([]string, 0, len(m.Plugins))
	for k := range m.Plugins {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestFile))
}

// FileSHA256 is the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// expectedChecksum is the sha256 a plugin binary must have: from its
// folder's manifest, nil when the folder has none (a development build).
// A folder with a manifest that does not list the binary refuses it.
func expectedChecksum(path string) ([]byte, error) {
	m, err := ReadManifest(filepath.Dir(path))
	if err != nil || m == nil {
		return nil, err
	}
	sum, ok := m.Plugins[filepath.Base(path)]
	if !ok {
		return nil, fmt.Errorf("%s is not in %s; install it with `ovms plugin install`", filepath.Base(path), filepath.Join(filepath.Dir(path), ManifestFile))
	}
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%s: the sha256 of %s is malformed", filepath.Join(filepath.Dir(path), ManifestFile), filepath.Base(path))
	}
	return b, nil
}
