package modelmanager

import (
	"context"
	"errors"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
)

// autoShape is the shape a version was reloaded with for a request
// (OVMS's shape "auto" and batch_size "auto").
type autoShape struct {
	shapes config.Shapes
	batch  int64
}

// autoReshape handles a request whose shape the version does not take when
// the model's shape or batch_size is "auto": as OVMS does, the version is
// loaded again with the request's shapes (or batch), replaces the old one,
// and the request runs on it. It returns the new version, pinned, or nil
// when the error is not a shape mismatch, the model is not "auto", or the
// reload failed (then the original error stands).
func (v *Version) autoReshape(ctx context.Context, req *tensor.Request, verr error) *Version {
	if (!v.shapeAuto && !v.batchAuto) || v.mgr == nil || v.mod == nil || errors.Is(verr, tensor.ErrDimension) ||
		!(apierr.Is(verr, apierr.InvalidBatchSize) || apierr.Is(verr, apierr.InvalidShape)) {
		return nil
	}
	for _, in := range req.Inputs {
		for _, d := range in.Shape {
			if d <= 0 {
				return nil // a model is never compiled for a negative or empty dimension
			}
		}
	}
	want := &autoShape{}
	if v.shapeAuto {
		want.shapes = config.Shapes{}
		for _, in := range req.Inputs {
			want.shapes[v.names.in(in.Name)] = append([]int64(nil), in.Shape...)
		}
	} else {
		if len(req.Inputs) == 0 || len(req.Inputs[0].Shape) == 0 || req.Inputs[0].Shape[0] <= 0 {
			return nil
		}
		want.batch = req.Inputs[0].Shape[0]
	}
	return v.mgr.reloadFor(ctx, v, want)
}

// reloadFor loads version old again with shape want, swaps it in and
// retires old once its requests are done. Concurrent callers wait on the
// model's lock; one that finds old already replaced uses the replacement.
func (m *Manager) reloadFor(ctx context.Context, old *Version, want *autoShape) *Version {
	mod := old.mod
	mod.mu.Lock()
	defer mod.mu.Unlock()
	cur := mod.Version(old.Number)
	if cur == nil {
		return nil
	}
	if cur != old { // someone reloaded it meanwhile: try that one
		if cur.Acquire(ctx, true) != nil {
			return nil
		}
		return cur
	}
	mod.reloads++
	nv := newVersion(mod, old.Number, old.Path)
	nv.key.Name += "#" + strconv.FormatUint(mod.reloads, 10)
	nv.auto = want
	log := mod.log.WithFields(logrus.Fields{"version": old.Number, "batch": want.batch, "shapes": want.shapes})
	log.Info("reloading the version for a request's shape (auto)")
	if err := m.loadVersion(ctx, mod, nv); err != nil {
		log.WithError(err).Warn("reloading for the request's shape failed; the version keeps its shape")
		if nv.dropLocal != nil {
			nv.dropLocal()
		}
		return nil
	}
	mod.setVersion(nv)
	go m.unloadVersion(context.WithoutCancel(ctx), old) // after the requests holding it
	if nv.Acquire(ctx, false) != nil {
		return nil
	}
	return nv
}
