package modelmanager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
)

// loadVersion loads one version into its device plugin. A failure leaves
// the version in LOADING with error code UNKNOWN, as OVMS reports it.
func (m *Manager) loadVersion(ctx context.Context, mod *Model, v *Version) error {
	v.mgr = m
	log := mod.log.WithField("version", v.Number)
	v.setState(StateLoading, ErrOK)
	start := time.Now()
	info, inst, err := m.compile(ctx, mod, v)
	if err != nil {
		v.setState(StateLoading, ErrUnknown)
		log.WithError(err).Error("error occurred while loading model version")
		return fmt.Errorf("version %d: %w", v.Number, err)
	}
	for _, w := range info.Warnings {
		log.WithField("code", "RESHAPE_ERROR").Warn(w)
	}
	names, err := readMapping(v.local, info)
	if err != nil {
		log.WithError(err).Warn("tensor renaming skipped")
	}
	v.info, v.inst, v.names = info, inst, names
	if n := mod.cfg.Nireq; n > 0 {
		v.slots = make(chan struct{}, n)
	}
	if cfg := mod.cfg.DynamicBatching; cfg != nil {
		b, err := newBatcher(v, cfg)
		if err != nil {
			_ = inst.Device.Unload(ctx, v.key)
			v.setState(StateLoading, ErrUnknown)
			log.WithError(err).Error("error occurred while loading model version")
			return fmt.Errorf("version %d: %w", v.Number, err)
		}
		v.batcher = b
	}
	v.setState(StateAvailable, ErrOK)
	log.WithFields(logrus.Fields{"device": inst.Family, "took": time.Since(start).Round(time.Millisecond)}).Info("model version loaded")
	return nil
}

func (m *Manager) compile(ctx context.Context, mod *Model, v *Version) (*device.ModelInfo, *pluginhost.Instance, error) {
	cfg := mod.cfg
	shapes, shapeAuto, err := config.ParseShape(cfg.Shape)
	if err != nil {
		return nil, nil, apierr.Newf(apierr.ShapeWrongFormat, "%s", strings.TrimPrefix(err.Error(), apierr.ShapeWrongFormat.Message()+" - "))
	}
	batch, batchAuto, err := config.ParseBatchSize(cfg.BatchSize)
	if err != nil {
		return nil, nil, apierr.Newf(apierr.ModelConfigInvalid, "%v", err)
	}
	layouts, err := config.ParseLayout(cfg.Layout)
	if err != nil {
		return nil, nil, apierr.Newf(apierr.LayoutWrongFormat, "%s", strings.TrimPrefix(err.Error(), apierr.LayoutWrongFormat.Message()+" - "))
	}
	if len(shapes) > 0 {
		batch = 0 // OVMS: shape wins over batch_size
	}
	v.shapeAuto, v.batchAuto = shapeAuto, batchAuto && len(shapes) == 0 && !shapeAuto
	if v.auto != nil { // a reload for a request's shape
		shapes, batch = v.auto.shapes, v.auto.batch
	}
	local, err := m.localPath(ctx, mod, v)
	if err != nil {
		return nil, nil, err
	}
	v.local = local
	inst, err := m.devices.Get(ctx, pluginhost.Family(cfg.TargetDevice))
	if err != nil {
		return nil, nil, apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "target device %s: %v", cfg.TargetDevice, err)
	}
	info, err := inst.Device.Load(ctx, &device.LoadRequest{
		Model:        v.key,
		Path:         v.local,
		PluginConfig: cfg.PluginConfig,
		TargetDevice: cfg.TargetDevice,
		Nireq:        uint32(cfg.Nireq),
		Shapes:       shapes,
		BatchSize:    batch,
		Layouts:      layouts,
	})
	if err != nil {
		return nil, nil, apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "%s", status.Convert(err).Message())
	}
	return info, inst, nil
}

// unloadVersion retires a version: UNLOADING, wait for in-flight requests,
// unload from the plugin, END.
func (m *Manager) unloadVersion(ctx context.Context, v *Version) {
	s, _ := v.Status()
	if s >= StateUnloading {
		return
	}
	v.setState(StateUnloading, ErrOK)
	v.drain(ctx)
	if v.inst != nil {
		if err := v.inst.Device.Unload(ctx, v.key); err != nil {
			m.log.WithError(err).WithFields(logrus.Fields{"model": v.Model, "version": v.Number}).Warn("unloading from the device plugin failed")
		}
	}
	if v.dropLocal != nil {
		v.dropLocal()
	}
	v.setState(StateEnd, ErrOK)
}
