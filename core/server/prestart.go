package server

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
)

// prestart starts, in the background, the shared device plugin processes
// that the models of cfg name, before the config is parsed and validated
// and the servers are set up: a plugin's start (its process, its engine's
// library and one-time initialization) then overlaps the core's, and the
// first model load finds its plugin running. Only plain target devices are
// started (CPU, GPU.1, NVIDIA, ...; not AUTO, MULTI or HETERO, whose
// choice depends on what loads), only when models share a family's process
// (--plugin_isolation device), and only those whose binary is installed. A
// start that fails is left for the model load to retry and report.
func prestart(ctx context.Context, cfg config.Server, host *pluginhost.Host, isolation pluginhost.Isolation, log *logrus.Entry) {
	if isolation != pluginhost.IsolationDevice {
		return
	}
	go func() {
		var devices []string
		if cfg.Model != nil {
			devices = []string{cfg.Model.TargetDevice}
		} else if cfg.ConfigPath != "" {
			devices = configDevices(cfg.ConfigPath)
		}
		started := map[string]bool{}
		for _, dev := range devices {
			family, ok := plainFamily(dev)
			if !ok || started[family] {
				continue
			}
			started[family] = true
			if _, err := host.Find(family); err != nil {
				continue // the load reports it with the model's name
			}
			go func() {
				if _, err := host.Get(ctx, family); err != nil {
					log.WithError(err).WithField("plugin", family).Debug("device plugin not started ahead of the models; their loads will retry")
				}
			}()
		}
	}()
}

// plainFamily is the plugin family of a single-device target_device ("" is
// CPU, the default); false for composite targets.
func plainFamily(dev string) (string, bool) {
	d := strings.ToUpper(strings.TrimSpace(dev))
	if d == "" {
		d = "CPU"
	}
	if strings.HasPrefix(d, "AUTO") || strings.HasPrefix(d, "MULTI") || strings.HasPrefix(d, "HETERO") || strings.ContainsAny(d, ",:") {
		return "", false
	}
	return pluginhost.Family(d), true
}

// configDevices reads the target_device of every model of a config.json
// without validating the file (that is done, with its messages, when the
// models are applied); nil when the file cannot be read as JSON.
func configDevices(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var f struct {
		Models []struct {
			Config struct {
				TargetDevice *string `json:"target_device"`
			} `json:"config"`
		} `json:"model_config_list"`
	}
	if json.Unmarshal(data, &f) != nil {
		return nil
	}
	devices := make([]string, 0, len(f.Models))
	for _, m := range f.Models {
		dev := "CPU"
		if m.Config.TargetDevice != nil {
			dev = *m.Config.TargetDevice
		}
		devices = append(devices, dev)
	}
	return devices
}
