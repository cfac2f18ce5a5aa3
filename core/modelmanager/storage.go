package modelmanager

import (
	"context"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/storage"
)

// SetCacheDir sets the folder remote model versions are downloaded into
// (each model object gets its own subfolder). Call it before Apply.
func (m *Manager) SetCacheDir(dir string) { m.cacheDir = dir }

// versionsOf lists the model's version folders through its repository
// (opened on first use); skipped names are logged to log.
func (m *Manager) versionsOf(ctx context.Context, mod *Model, log *logrus.Entry) (map[int64]string, error) {
	if mod.repo == nil {
		dir := ""
		if m.cacheDir != "" {
			dir = filepath.Join(m.cacheDir, mod.pluginName())
		}
		repo, err := storage.Open(ctx, mod.cfg.BasePath, dir, mod.log)
		if err != nil {
			return nil, err
		}
		mod.repo = repo
	}
	return mod.repo.Versions(ctx, func(name, reason string) {
		log.WithFields(logrus.Fields{"base_path": mod.cfg.BasePath, "entry": name}).Warn(reason)
	})
}

// localPath makes version v of mod available locally (downloading a
// remote one into the cache) and returns its folder.
func (m *Manager) localPath(ctx context.Context, mod *Model, v *Version) (string, error) {
	if !storage.IsRemote(mod.cfg.BasePath) {
		return v.Path, nil
	}
	dir, err := mod.repo.Fetch(ctx, v.Number)
	if err != nil {
		return "", err
	}
	repo, n := mod.repo, v.Number
	v.dropLocal = func() {
		if err := repo.Release(n); err != nil {
			mod.log.WithError(err).WithField("version", n).Warn("removing the downloaded copy failed")
		}
	}
	return dir, nil
}

// closeRepo releases the model's repository clients (after its versions
// are unloaded).
func (mod *Model) closeRepo() {
	if mod.repo != nil {
		_ = mod.repo.Close()
		mod.repo = nil
	}
}

// removeCache deletes the download cache (at shutdown).
func (m *Manager) removeCache() {
	if m.cacheDir != "" {
		_ = os.RemoveAll(m.cacheDir)
	}
}
