package server

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPlainFamily(t *testing.T) {
	for dev, want := range map[string]string{"": "cpu", "CPU": "cpu", " gpu.1 ": "gpu", "NVIDIA": "cuda", "MYRIAD": "myriad"} {
		if got, ok := plainFamily(dev); !ok || got != want {
			t.Errorf("plainFamily(%q) = %q, %v; want %q", dev, got, ok, want)
		}
	}
	for _, dev := range []string{"AUTO", "MULTI:CPU,GPU", "HETERO:GPU,CPU", "AUTO:GPU"} {
		if got, ok := plainFamily(dev); ok {
			t.Errorf("plainFamily(%q) = %q; want a composite target left alone", dev, got)
		}
	}
}

func TestConfigDevices(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	body := `{"model_config_list": [{"config": {"name": "a", "base_path": "/a"}},
		{"config": {"name": "b", "base_path": "/b", "target_device": "GPU"}},
		{"config": {"name": "c", "base_path": "/c", "target_device": "MULTI:CPU,GPU"}}]}`
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := configDevices(cfg), []string{"CPU", "GPU", "MULTI:CPU,GPU"}; !slices.Equal(got, want) {
		t.Errorf("configDevices = %q, want %q", got, want)
	}
	if err := os.WriteFile(cfg, []byte(`{"model_config_list": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := configDevices(cfg); got != nil {
		t.Errorf("configDevices of a broken file = %q, want nil", got)
	}
	if got := configDevices(filepath.Join(dir, "missing.json")); got != nil {
		t.Errorf("configDevices of a missing file = %q, want nil", got)
	}
}
