package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/api/rest"
	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/customnode"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/pipeline"
)

// reloader keeps the served models in line with the configuration: the
// config file (multi-model mode) or the single model of the flags, and the
// version folders of every model. The watcher polls it every
// --file_system_poll_wait_seconds; POST /v1/config/reload runs it at once.
// Runs are serialized.
type reloader struct {
	models *modelmanager.Manager
	path   string         // config.json; "" in single-model mode
	single []config.Model // single-model mode's model
	log    *logrus.Entry

	mu      sync.Mutex
	applied [sha256.Size]byte // hash of the config in force
	current []config.Model    // its models
	// pipes serves the file's pipelines (nil: none, as in single-model
	// mode); pipelines are the ones in force.
	pipes     *pipeline.Registry
	pipelines []config.Pipeline
	badHash   [sha256.Size]byte // last hash that failed (logged once)
	met       *metrics.Registry // counts reloads; nil: metrics off
	nodes     *customnode.Host  // custom node libraries; nil: none
	// first is config.json as the server read it at start (for its
	// monitoring section), which start applies instead of reading the
	// file again; nil: start reads it.
	first *config.File
}

// newReloader returns a reloader for cfg.
func newReloader(cfg config.Server, models *modelmanager.Manager, log *logrus.Entry) *reloader {
	r := &reloader{models: models, path: cfg.ConfigPath, log: log}
	if cfg.Model != nil {
		r.single = []config.Model{*cfg.Model}
	}
	return r
}

// start loads the configuration for the first time. A config file that
// cannot be used stops the server (as OVMS); model failures do not in
// multi-model mode, and do in single-model mode.
func (r *reloader) start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" {
		r.current = r.single
		return r.models.Apply(ctx, r.single)
	}
	f := r.first
	r.first = nil
	if f == nil {
		var err error
		if f, err = config.LoadFile(r.path); err != nil {
			return err
		}
	}
	r.report(f)
	r.applyNodes(ctx, f)
	r.applied, r.current, r.pipelines = f.Hash, f.Models, f.Pipelines
	// Ready once the pipelines are published too (a client that saw the
	// server ready finds them), as OVMS loads pipelines before serving.
	r.models.HoldReady()
	defer r.models.ReleaseReady()
	if err := r.models.Apply(ctx, f.Models); err != nil {
		r.log.WithError(err).Error("some models failed to load; the others serve")
	}
	if r.pipes != nil {
		r.pipes.Apply(ctx, r.pipelines)
	}
	return nil
}

// report logs a file's skipped entries and warnings.
func (r *reloader) report(f *config.File) {
	for _, p := range f.Problems {
		r.log.WithFields(logrus.Fields{"path": p.Path}).Error(p.Message)
	}
	for _, p := range f.Warnings {
		r.log.WithFields(logrus.Fields{"path": p.Path}).Warn(p.Message)
	}
}

// Reload re-reads the config file when its contents changed (a file that
// fails validation changes nothing) and then every model's version
// folders. It implements rest.ConfigReloader.
func (r *reloader) Reload(ctx context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	models := r.current
	fileChanged := false
	if r.path != "" {
		data, err := config.ReadConfigFile(r.path)
		if err != nil {
			return false, &rest.ReloadError{Message: rest.ReloadFileMissing,
				Err: apierr.Wrap(apierr.ConfigFileTimestampReadingFailed, err, "%v", err)}
		}
		if sum := sha256.Sum256(data); sum != r.applied {
			f, err := config.LoadFile(r.path)
			if err != nil {
				if sum != r.badHash {
					r.log.WithError(err).Error("configuration file not applied; the previous configuration stays in force")
					r.badHash = sum
					r.met.ConfigReloaded(false)
				}
				return false, &rest.ReloadError{Message: rest.ReloadConfigFailed, Err: configErr(err)}
			}
			r.log.WithField("path", r.path).Info("configuration file changed; applying it")
			r.report(f)
			r.applyNodes(ctx, f)
			models, fileChanged = f.Models, true
			r.applied, r.current, r.pipelines = f.Hash, f.Models, f.Pipelines
		}
	}
	changed, err := r.models.Reconcile(ctx, models)
	// Pipelines follow the models: new and changed definitions, and those
	// whose models changed or went away, are validated again.
	if r.pipes != nil && r.pipes.Apply(ctx, r.pipelines) {
		changed = true
	}
	if fileChanged {
		r.log.WithFields(logrus.Fields{"models": len(models), "goroutines": runtime.NumGoroutine()}).Info("configuration applied")
	}
	if fileChanged || changed || err != nil {
		r.met.ConfigReloaded(err == nil)
	}
	if err != nil {
		msg := rest.ReloadVersionsFailed
		if fileChanged {
			msg = rest.ReloadConfigFailed
		}
		return true, &rest.ReloadError{Message: msg, Err: err}
	}
	if r.path == "" {
		return false, nil // OVMS answers 200 in single-model mode
	}
	return changed || fileChanged, nil
}

// configErr gives a config file failure its OVMS code.
func configErr(err error) error {
	var fe *config.FileError
	if errors.As(err, &fe) && fe.Reason == config.ReasonCannotOpen {
		return apierr.Wrap(apierr.ConfigFileTimestampReadingFailed, err, "%v", err)
	}
	return apierr.Wrap(apierr.JSONInvalid, err, "%v", err)
}

// watch polls every period until ctx ends (period 0: never). Reload logs
// what went wrong itself (a bad config file once per content; failed
// versions through the model manager).
func (r *reloader) watch(ctx context.Context, period time.Duration) {
	if period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.Reload(ctx); err != nil && ctx.Err() == nil {
				r.log.WithError(err).Debug("periodic reload")
			}
		}
	}
}
