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
	req := &device.LoadRequest{
		Model:        v.key,
		Path:         v.local,
		PluginConfig: cfg.PluginConfig,
		Nireq:        uint32(cfg.Nireq),
		Shapes:       shapes,
		BatchSize:    batch,
		Layouts:      layouts,
	}
	candidates, err := targetDevices(cfg.TargetDevice)
	if err != nil {
		return nil, nil, err
	}
	var errs []string
	for _, dev := range candidates {
		info, inst, err := m.loadOn(ctx, dev, req)
		if err == nil {
			if len(candidates) > 1 {
				mod.log.WithFields(logrus.Fields{"version": v.Number, "target_device": cfg.TargetDevice, "chosen": dev}).Info("composite target: device chosen")
			}
			return info, inst, nil
		}
		if len(candidates) == 1 {
			return nil, nil, err
		}
		errs = append(errs, dev+": "+apierr.From(err).Details)
	}
	return nil, nil, apierr.Newf(apierr.CannotCompileModelIntoTargetDevice, "no device of %s could load the model: %s", cfg.TargetDevice, strings.Join(errs, "; "))
}

// loadOn loads a version on one device's plugin.
func (m *Manager) loadOn(ctx context.Context, dev string, req *device.LoadRequest) (*device.ModelInfo, *pluginhost.Instance, error) {
	inst, err := m.devices.Get(ctx, pluginhost.Family(dev))
	if err != nil {
		return nil, nil, apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "target device %s: %v", dev, err)
	}
	r := *req
	r.TargetDevice = dev
	info, err := inst.Device.Load(ctx, &r)
	if err != nil {
		return nil, nil, apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "%s", status.Convert(err).Message())
	}
	return info, inst, nil
}

// autoDevices is AUTO's preference order (OVMS: discrete GPU, then
// integrated GPU, then CPU; never NPU).
var autoDevices = []string{"CUDA", "GPU", "CPU"}

// targetDevices expands a target_device into the devices to try in order:
// HETERO:A,B and AUTO:A,B try A then B (the first that loads the model
// serves it), AUTO tries CUDA, GPU, CPU. MULTI is refused until it is
// served.
func targetDevices(target string) ([]string, error) {
	kind, list, composite := strings.Cut(strings.TrimSpace(target), ":")
	kind = strings.ToUpper(kind)
	switch {
	case kind == "AUTO" && !composite:
		return autoDevices, nil
	case kind == "AUTO" || kind == "HETERO":
		var out []string
		for _, d := range strings.Split(list, ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, d)
			}
		}
		if len(out) == 0 {
			return nil, apierr.Newf(apierr.CannotCompileModelIntoTargetDevice, "%s lists no device", target)
		}
		return out, nil
	case kind == "MULTI":
		return nil, apierr.Newf(apierr.NotImplemented, "target device %s: MULTI (load balancing across devices) is not served yet; use HETERO or AUTO", target)
	}
	return []string{target}, nil
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
