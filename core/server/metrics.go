package server

import (
	"fmt"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/pluginhost"
)

// metricsConfig is the metrics setting in force: the flags, or config.json's
// "monitoring" section, read once at start as OVMS does (a later change of
// the section needs a restart). Both at once, metrics enabled by the file
// without --rest_port, or an unknown family name stop the server. file is
// config.json as loaded (nil when there is none, or it did not load: it
// then fails the start later with its own error).
func metricsConfig(cfg config.Server, file *config.File) (metrics.Config, error) {
	mc := metrics.Config{Enable: cfg.MetricsEnable, List: metrics.ParseList(cfg.MetricsList)}
	if cfg.ConfigPath != "" {
		if f := file; f != nil && f.Monitoring != nil {
			if cfg.MetricsEnable || cfg.MetricsList != "" {
				return mc, fmt.Errorf("%w: Couldn't start model manager: CONFIG_FILE_INVALID: metrics are configured both by --metrics_enable/--metrics_list and by the config file's monitoring section; use one", ErrStartup)
			}
			mc = metrics.Config{Enable: f.Monitoring.Enable, List: f.Monitoring.List}
			if mc.Enable && cfg.RestPort == 0 {
				return mc, fmt.Errorf("%w: Couldn't start model manager: CLI parameter rest_port is not defined. It must be set to enable metrics on the REST interface", ErrStartup)
			}
		}
	}
	if _, err := mc.Families(); err != nil {
		return mc, fmt.Errorf("%w: Couldn't start model manager: %w", ErrStartup, err)
	}
	return mc, nil
}

// startMetrics builds the metrics registry (nil when off) and connects the
// plugin host's arenas to it; file is config.json as loaded (see
// metricsConfig).
func startMetrics(cfg config.Server, file *config.File, host *pluginhost.Host) (*metrics.Registry, error) {
	mc, err := metricsConfig(cfg, file)
	if err != nil {
		return nil, err
	}
	reg, err := metrics.New(mc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartup, err)
	}
	if err := reg.ObserveArenas(func() []metrics.ArenaUsage {
		var out []metrics.ArenaUsage
		host.Each(func(inst *pluginhost.Instance) {
			out = append(out, metrics.ArenaUsage{Plugin: inst.Key.String(), Host: inst.Arena.HostZone().Used(), Peer: inst.LeasedOutputBytes()})
		})
		return out
	}); err != nil {
		reg.Close()
		return nil, fmt.Errorf("%w: %w", ErrStartup, err)
	}
	return reg, nil
}
