package modelmanager

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/storage"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/modelfile"
)

// loadVersions loads versions of mod in parallel (each waits for a load
// slot); the error joins the failures in version order.
func (m *Manager) loadVersions(ctx context.Context, mod *Model, vs []*Version) error {
	if len(vs) == 1 {
		return m.loadVersion(ctx, mod, vs[0])
	}
	errs := make([]error, len(vs))
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.loadVersion(ctx, mod, v)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadSlot waits for one of the load slots for a version whose files
// weigh weight bytes (the largest waiting version takes a freed slot
// first, internal/slots); call the returned func to give it back.
func (m *Manager) loadSlot(ctx context.Context, weight int64) (func(), error) {
	return m.loadSlots.Acquire(ctx, weight)
}

// versionWeight is the size in bytes of a local version folder's files
// (modelfile.DirSize: no file opened; 0 for an unreadable folder). A
// version in cloud storage, whose size is not known before its download,
// weighs more than any local one: its load (download and compile) is
// likely the longest, and the longest go first.
func versionWeight(path string) int64 {
	if storage.IsRemote(path) {
		return math.MaxInt64
	}
	return modelfile.DirSize(path)
}

// ErrLoadTimeout is wrapped by the error of a load that ran past the load
// timeout.
var ErrLoadTimeout = errors.New("model load timed out")

// loadVersion loads one version into its device plugin, once a load slot
// is free and within the load timeout. A failure, a timeout included,
// leaves the version in LOADING with error code UNKNOWN, as OVMS reports a
// failed load; a timed-out load is abandoned (the plugin drops it if it
// ever ends) and holds no lock afterwards.
func (m *Manager) loadVersion(ctx context.Context, mod *Model, v *Version) error {
	v.mgr = m
	defer m.unreserve(v) // plugin processes kept for this load (isolation.go)
	log := mod.log.WithField("version", v.Number)
	release, err := m.loadSlot(ctx, versionWeight(v.Path))
	if err != nil {
		v.setState(StateLoading, ErrUnknown)
		return fmt.Errorf("version %d: waiting to load: %w", v.Number, err)
	}
	defer release()
	v.setState(StateLoading, ErrOK)
	start := time.Now()
	lctx, cancel := ctx, context.CancelFunc(func() {})
	if m.loadTimeout > 0 {
		lctx, cancel = context.WithTimeout(ctx, m.loadTimeout)
	}
	info, insts, err := m.compile(lctx, mod, v)
	timedOut := m.loadTimeout > 0 && ctx.Err() == nil && (lctx.Err() != nil || cancelled(err))
	cancel()
	if err != nil {
		v.setState(StateLoading, ErrUnknown)
		if timedOut {
			err = fmt.Errorf("%w after %v (--model_load_timeout_seconds); the version is left as a failed load", ErrLoadTimeout, m.loadTimeout)
		}
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
	inst := insts[0]
	m.setBackends(v, info, insts, names)
	v.layouts = apiLayouts(mod.cfg.Layout, info, names)
	v.busy = make([]atomic.Int64, len(insts))
	if n := mod.cfg.Nireq; n > 0 {
		v.slots = make(chan struct{}, n)
	}
	if v.met == nil {
		v.met = m.metrics.Version(v.Model, v.Number)
	}
	v.met.Loaded(streamCount(mod.cfg.PluginConfig), mod.cfg.Nireq)
	if cfg := mod.cfg.DynamicBatching; cfg != nil && len(insts) > 1 {
		log.Warn("dynamic batching is not applied to a MULTI target")
	} else if cfg != nil {
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
	v.checkBackends() // its plugin may have ended meanwhile
	log.WithFields(logrus.Fields{"device": inst.Family, "took": time.Since(start).Round(time.Millisecond)}).Info("model version loaded")
	return nil
}

func (m *Manager) compile(ctx context.Context, mod *Model, v *Version) (*device.ModelInfo, []*pluginhost.Instance, error) {
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
	files, err := m.loaderFiles(ctx, mod, v)
	if err != nil {
		return nil, nil, err
	}
	req := &device.LoadRequest{
		Model:        v.key,
		Path:         v.local,
		PluginConfig: cfg.PluginConfig,
		Nireq:        uint32(cfg.Nireq),
		Shapes:       shapes,
		BatchSize:    batch,
		Layouts:      layouts,
		Stateful:     m.statefulSettings(mod),
		ModelFiles:   files,
	}
	if cfg.Stateful {
		req.TakeSequencesFrom = m.previousVersion(mod, v)
	}
	candidates, multi, err := targetDevices(cfg.TargetDevice)
	if err != nil {
		return nil, nil, err
	}
	if multi && cfg.Stateful {
		return nil, nil, apierr.Newf(apierr.ModelConfigInvalid, "a stateful model keeps its sequences in one device plugin: target_device %s is not supported", cfg.TargetDevice)
	}
	if multi {
		return m.loadMulti(ctx, mod, v, cfg.TargetDevice, candidates, req)
	}
	var errs []string
	for _, dev := range candidates {
		info, inst, err := m.loadOn(ctx, v, dev, req)
		if err == nil {
			if len(candidates) > 1 {
				mod.log.WithFields(logrus.Fields{"version": v.Number, "target_device": cfg.TargetDevice, "chosen": dev}).Info("composite target: device chosen")
			}
			return info, []*pluginhost.Instance{inst}, nil
		}
		if len(candidates) == 1 {
			return nil, nil, err
		}
		errs = append(errs, dev+": "+apierr.From(err).Details)
	}
	return nil, nil, apierr.Newf(apierr.CannotCompileModelIntoTargetDevice, "no device of %s could load the model: %s", cfg.TargetDevice, strings.Join(errs, "; "))
}

// loadOn loads a version on one device's plugin.
func (m *Manager) loadOn(ctx context.Context, v *Version, dev string, req *device.LoadRequest) (*device.ModelInfo, *pluginhost.Instance, error) {
	inst, err := m.plugin(ctx, pluginhost.Family(dev), v)
	if err != nil {
		return nil, nil, apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "target device %s: %v", dev, err)
	}
	r := *req
	r.TargetDevice = dev
	info, err := inst.Device.Load(ctx, &r)
	if err != nil && (ctx.Err() != nil || cancelled(err)) {
		// The core gave up (load timeout or shutdown). A plugin drops a
		// load that ends after its caller left, but one that ended just
		// as the deadline passed may be in place: unload it (under the
		// model's lock, so it cannot hit a newer load of the same key).
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonedUnloadTimeout)
		_ = inst.Device.Unload(uctx, r.Model)
		cancel()
	}
	if err != nil {
		return nil, nil, apierr.Wrap(apierr.CannotCompileModelIntoTargetDevice, err, "%s", status.Convert(err).Message())
	}
	return info, inst, nil
}

// cancelled reports whether a plugin call ended because its deadline
// passed or it was cancelled. The plugin's side of the call may see the
// deadline (sent rounded down) a little before the core does, and end the
// call first.
func cancelled(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	c := status.Code(err)
	return c == codes.DeadlineExceeded || c == codes.Canceled
}

// abandonedUnloadTimeout bounds the unload sent after an abandoned load.
const abandonedUnloadTimeout = 5 * time.Second

// autoDevices is AUTO's preference order (OVMS: discrete GPU, then
// integrated GPU, then CPU; never NPU).
var autoDevices = []string{"CUDA", "GPU", "CPU"}

// targetDevices expands a target_device into the devices to try in order:
// HETERO:A,B and AUTO:A,B try A then B (the first that loads the model
// serves it), AUTO tries CUDA, GPU, CPU; MULTI:A,B loads on all (multi).
func targetDevices(target string) (devices []string, multi bool, err error) {
	kind, list, composite := strings.Cut(strings.TrimSpace(target), ":")
	kind = strings.ToUpper(kind)
	switch {
	case kind == "AUTO" && !composite:
		return autoDevices, false, nil
	case kind == "AUTO" || kind == "HETERO" || kind == "MULTI":
		var out []string
		for _, d := range strings.Split(list, ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, d)
			}
		}
		if len(out) == 0 {
			return nil, false, apierr.Newf(apierr.CannotCompileModelIntoTargetDevice, "%s lists no device", target)
		}
		return out, kind == "MULTI", nil
	}
	return []string{target}, false, nil
}

// loadMulti loads a version on every device of MULTI:A,B; requests are
// then spread over them. The devices must agree on the model's inputs and
// outputs; one that cannot load it is left out (logged), and the load
// fails only when none can.
func (m *Manager) loadMulti(ctx context.Context, mod *Model, v *Version, target string, devs []string, req *device.LoadRequest) (*device.ModelInfo, []*pluginhost.Instance, error) {
	var info *device.ModelInfo
	var insts []*pluginhost.Instance
	var errs []string
	for _, dev := range devs {
		i, inst, err := m.loadOn(ctx, v, dev, req)
		if err != nil {
			errs = append(errs, dev+": "+apierr.From(err).Details)
			mod.log.WithError(err).WithFields(logrus.Fields{"version": v.Number, "device": dev}).Warn("MULTI: device left out")
			continue
		}
		if info == nil {
			info = i
		} else if !sameTensors(info, i) {
			_ = inst.Device.Unload(ctx, req.Model)
			errs = append(errs, dev+": the model's inputs or outputs differ from the first device's")
			continue
		}
		insts = append(insts, inst)
	}
	if len(insts) == 0 {
		return nil, nil, apierr.Newf(apierr.CannotCompileModelIntoTargetDevice, "no device of %s could load the model: %s", target, strings.Join(errs, "; "))
	}
	mod.log.WithFields(logrus.Fields{"version": v.Number, "target_device": target, "devices": len(insts)}).Info("MULTI: model loaded on every device that could")
	return info, insts, nil
}

// sameTensors reports whether two loads describe the same inputs and
// outputs.
func sameTensors(a, b *device.ModelInfo) bool {
	eq := func(x, y []device.TensorInfo) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Name != y[i].Name || x[i].DType != y[i].DType || fmt.Sprint(x[i].Shape) != fmt.Sprint(y[i].Shape) {
				return false
			}
		}
		return true
	}
	return eq(a.Inputs, b.Inputs) && eq(a.Outputs, b.Outputs)
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
		for _, inst := range v.backends() {
			if err := inst.Device.Unload(ctx, v.key); err != nil {
				m.log.WithError(err).WithFields(logrus.Fields{"model": v.Model, "version": v.Number, "plugin": inst.Family}).Warn("unloading from the device plugin failed")
			}
		}
		m.unloadFromLoader(ctx, v)
	}
	m.uncount(v)
	if v.dropLocal != nil {
		v.dropLocal()
	}
	v.setState(StateEnd, ErrOK)
}

// apiLayouts maps the version's inputs (by API name) to their layout as
// requests see it: the TARGET of a configured "TARGET:SOURCE", or a bare
// configured layout, else the layout the model declares (an OpenVINO IR's
// rt_info), as OVMS reports it. nil when no input has a layout.
func apiLayouts(setting string, info *device.ModelInfo, names *names) map[string]string {
	out := configLayouts(setting, info, names)
	for _, in := range info.Inputs {
		if _, set := out[in.Name]; !set && in.Layout != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[in.Name] = in.Layout
		}
	}
	return out
}

// configLayouts is apiLayouts for the configured layouts only.
func configLayouts(setting string, info *device.ModelInfo, names *names) map[string]string {
	ls, err := config.ParseLayout(setting)
	if err != nil || len(ls) == 0 {
		return nil
	}
	out := map[string]string{}
	for key, l := range ls {
		target, _, _ := strings.Cut(l, ":")
		if key == "" {
			if len(info.Inputs) == 1 {
				out[info.Inputs[0].Name] = target
			}
			continue
		}
		alias := key
		for a, r := range names.inReal {
			if r == key {
				alias = a
			}
		}
		out[alias] = target
	}
	return out
}
