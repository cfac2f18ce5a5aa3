package modelmanager

// This file serves models through custom loaders (custom_loader_options):
// a version's files come from the loader plugin, in memory, instead of
// being read from its folder by the device plugin; version folders are
// still listed from base_path (as OVMS does); the loader's retired
// versions (OVMS's blacklist) are left out of the policy's selection on
// every load and poll, so they are unloaded (END) and come back once the
// loader no longer lists them.

import (
	"context"
	"errors"
	"slices"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// Loaders gives model files from custom loader plugins
// (core/customloader.Host).
type Loaders interface {
	// Load returns a version's model files.
	Load(ctx context.Context, l *config.CustomLoader, req loaderhost.Request) ([]device.ModelFile, error)
	// Retired returns those of versions the loader will not have served.
	Retired(ctx context.Context, l *config.CustomLoader, req loaderhost.Request, versions []int64) ([]int64, error)
	// Unload tells the loader a version is no longer served.
	Unload(ctx context.Context, l *config.CustomLoader, name string, version int64)
}

// SetLoaders installs the custom loaders (call before Apply); without
// them, a model with a custom loader fails to load.
func (m *Manager) SetLoaders(l Loaders) { m.loaders = l }

// selectVersions is the version policy's choice among the found version
// numbers, less the versions the model's custom loader retires (returned
// too: they are unloaded even while another version fails to load). When
// the loader cannot answer, nothing is retired (logged).
func (m *Manager) selectVersions(ctx context.Context, mod *Model, found map[int64]string) (selected []int64, retired map[int64]bool) {
	selected = mod.cfg.VersionPolicy.Select(versionNumbers(found))
	l := mod.cfg.CustomLoader
	if l == nil || m.loaders == nil || len(selected) == 0 {
		return selected, nil
	}
	list, err := m.loaders.Retired(ctx, l, loaderhost.Request{Name: mod.Name, BasePath: mod.cfg.BasePath}, selected)
	if err != nil {
		if msg := err.Error(); msg != mod.retiredErr {
			mod.log.WithError(err).Warn("asking the custom loader for retired versions failed; none retired")
			mod.retiredErr = msg
		}
		return selected, nil
	}
	mod.retiredErr = ""
	out := selected[:0:0]
	for _, n := range selected {
		if slices.Contains(list, n) {
			if retired == nil {
				retired = map[int64]bool{}
			}
			retired[n] = true
			if v := mod.Version(n); v != nil {
				if s, _ := v.Status(); s < StateUnloading {
					mod.log.WithField("version", n).Info("version retired by the custom loader; unloading it")
				}
			}
			continue
		}
		out = append(out, n)
	}
	return out, retired
}

// loaderFiles asks the model's custom loader for a version's files; nil
// when the model has no loader.
func (m *Manager) loaderFiles(ctx context.Context, mod *Model, v *Version) ([]device.ModelFile, error) {
	l := mod.cfg.CustomLoader
	if l == nil {
		return nil, nil
	}
	if m.loaders == nil {
		return nil, errNoLoaders
	}
	return m.loaders.Load(ctx, l, loaderhost.Request{Name: mod.Name, BasePath: mod.cfg.BasePath, Version: v.Number, Path: v.local})
}

// unloadFromLoader tells a version's custom loader that it is unloaded.
func (m *Manager) unloadFromLoader(ctx context.Context, v *Version) {
	if v.mod == nil || v.mod.cfg.CustomLoader == nil || m.loaders == nil {
		return
	}
	m.loaders.Unload(ctx, v.mod.cfg.CustomLoader, v.Model, v.Number)
}

// errNoLoaders is the load error of a model with a custom loader on a
// manager without loaders (tests).
var errNoLoaders = errors.New("custom loaders are not available in this server")
