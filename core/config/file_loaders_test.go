package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCustomLoaderConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	doc := `{
 "custom_loader_config_list": [
  {"config": {"loader_name": "aes", "library_path": "loaders/ovms-loader-aesgcm", "loader_config_file": "aes.json"}},
  {"config": {"loader_name": "ex", "library_path": "example"}},
  {"config": {"loader_name": "aes", "library_path": "/elsewhere"}}
 ],
 "model_config_list": [
  {"config": {"name": "a", "base_path": "models/a", "custom_loader_options": {"loader_name": "aes", "key_env": "K", "n": 1}}},
  {"config": {"name": "b", "base_path": "models/b", "custom_loader_options": {"loader_name": "ex"}}},
  {"config": {"name": "c", "base_path": "models/c"}},
  {"config": {"name": "d", "base_path": "models/d", "allow_cache": true, "custom_loader_options": {"loader_name": "ex"}}}
 ]
}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Models) != 3 {
		t.Fatalf("models %d, problems %v", len(f.Models), f.Problems)
	}
	a := f.Models[0].CustomLoader
	want := CustomLoader{Name: "aes", Library: filepath.Join(dir, "loaders/ovms-loader-aesgcm"), ConfigFile: filepath.Join(dir, "aes.json"),
		Options: `{"key_env":"K","loader_name":"aes","n":1}`}
	if a == nil || *a != want {
		t.Errorf("model a: %+v, want %+v", a, want)
	}
	if b := f.Models[1].CustomLoader; b == nil || b.Library != "example" || b.ConfigFile != "" {
		t.Errorf("model b: %+v (a bare library name stays for the plugin folders)", b)
	}
	if f.Models[2].CustomLoader != nil {
		t.Errorf("model c has no loader: %+v", f.Models[2].CustomLoader)
	}
	if len(f.Problems) != 1 || !strings.Contains(f.Problems[0].String(), "/model_config_list/3/config/allow_cache: allow_cache is set to true with custom loader usage") {
		t.Errorf("problems: %v", f.Problems)
	}
	found := false
	for _, w := range f.Warnings {
		found = found || strings.Contains(w.String(), `/custom_loader_config_list/2/config/loader_name: custom loader "aes" is defined more than once`)
		if strings.Contains(w.Message, "not served") {
			t.Errorf("warning: %v", w)
		}
	}
	if !found {
		t.Errorf("no warning for the repeated loader: %v", f.Warnings)
	}
}
