// Package ortdevice is a device plugin implementation over the project's
// ONNX Runtime binding. The device binaries (ovms-device-cpu, ...) are thin
// mains around it that choose the execution provider and the target device
// names they answer to.
package ortdevice

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ort "github.com/ovmsgo/ovms/devices/onnxruntime"
	"github.com/ovmsgo/ovms/internal/slots"
	"github.com/ovmsgo/ovms/internal/version"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// Config chooses what a device binary serves.
type Config struct {
	// Name is the plugin name, e.g. "cpu".
	Name string
	// Devices are the target_device names served, e.g. "CPU".
	Devices []string
	// Detect, when set, says why the device cannot run here ("" when it
	// can), given the folder of the ONNX Runtime library.
	Detect func(libDir string) string
	// CUDA makes every session use ONNX Runtime's CUDA execution provider.
	CUDA bool
	// SharedPool runs the models without thread settings of their own on
	// one intra-op pool for the whole plugin (ONNX Runtime's global thread
	// pools, set up by New before any session) instead of a pool per
	// session; see ownPoolReason for the models that keep their own.
	SharedPool bool
}

// Device hosts ONNX Runtime sessions for loaded model versions.
type Device struct {
	cfg       Config
	reason    string // why the device cannot run here; "" when it can
	extension string // custom-operator library for every session
	eo        engineOpts
	env       *device.Env
	arena     *shm.Arena
	log       *logrus.Entry
	models    sync.Map // device.ModelKey -> *model
}

var _ device.Device = (*Device)(nil)

// Factory returns the device.Factory of a plugin binary.
func Factory(cfg Config) device.Factory {
	return func(env *device.Env) (device.Device, error) { return New(cfg, env) }
}

// New loads ONNX Runtime (ORT_LIB, beside the executable, or the repository
// cache) and returns the device.
func New(cfg Config, env *device.Env) (*Device, error) {
	path, err := ort.FindLibrary()
	if err != nil {
		return nil, err
	}
	if err := ort.Init(path); err != nil {
		return nil, fmt.Errorf("loading onnx runtime: %w", err)
	}
	log := env.Logger
	ort.SetLogHandler(func(level ort.LogLevel, category, location, message string) {
		log.WithFields(logrus.Fields{"ort_category": category, "ort_location": location}).Warn(message)
	})
	compiles := compileParallelism(env)
	log.WithFields(logrus.Fields{"library": path, "ort_version": ort.Version(), "compiles_at_once": compiles}).Info("onnx runtime loaded")
	d := &Device{cfg: cfg, env: env, arena: env.Arena, log: log, extension: os.Getenv(device.EnvCPUExtension),
		eo: engineOpts{cuda: cfg.CUDA, compiles: slots.New(compiles), weights: &weightsSet{}}}
	if cfg.SharedPool {
		d.eo.sharedPool = setSharedPools(log)
	}
	go func() { // after the shared pools are set: the warm-up creates the environment
		if err := warmUp(log); err != nil {
			log.WithError(err).Warn("engine warm-up failed; the first model load pays the engine's start")
		}
	}()
	if cfg.Detect != nil {
		if d.reason = cfg.Detect(ort.ProviderDir()); d.reason != "" {
			log.WithField("reason", d.reason).Warn("device not available on this machine; loads will fail")
		}
	}
	return d, nil
}

// compileParallelism is how many loads compile at once: the host's load
// parallelism (env.LoadParallelism), else the CPUs, at least 2 (the
// host's default).
func compileParallelism(env *device.Env) int {
	if env.LoadParallelism > 0 {
		return env.LoadParallelism
	}
	return max(2, runtime.GOMAXPROCS(0))
}

// setSharedPools sets up the plugin's shared thread pools (sharedPools)
// before the first session and reports whether the environment has them.
// In a process whose environment already exists without them (a test
// creating devices of several configurations) every model keeps pools of
// its own.
func setSharedPools(log *logrus.Entry) bool {
	want := sharedPools()
	if _, set := ort.GlobalThreadPoolsSet(); set {
		return true // an earlier device of this process set them
	}
	if err := ort.SetGlobalThreadPools(want); err != nil {
		log.WithError(err).Warn("shared thread pool not available; every model gets pools of its own")
		return false
	}
	log.WithFields(logrus.Fields{"intra_op_threads": want.IntraOpThreads, "inter_op_threads": want.InterOpThreads,
		"spinning": want.Spinning}).Info("shared thread pool set up for the models without thread settings")
	return true
}

// Info describes the plugin.
func (d *Device) Info(context.Context) (*device.Info, error) {
	return &device.Info{Name: d.cfg.Name, Version: version.String(), Engine: "onnxruntime " + ort.Version(), Devices: d.cfg.Devices,
		Unavailable: d.reason != "", Reason: d.reason}, nil
}

// Load compiles a model version into sessions. When the core gave up on
// the load meanwhile (its load timeout cancelled the call), the result is
// thrown away instead of replacing what the core knows to be loaded.
func (d *Device) Load(ctx context.Context, req *device.LoadRequest) (*device.ModelInfo, error) {
	if d.reason != "" {
		return nil, status.Errorf(codes.FailedPrecondition, "%s device is not available on this machine: %s", strings.Join(d.cfg.Devices, "/"), d.reason)
	}
	eo := d.eo
	if d.env != nil && d.env.Regions != nil {
		eo.guard = d.env.Regions.Guard // set once the plugin serves, before any load
	}
	m, err := loadModel(ctx, req, d.extension, eo, d.log.WithFields(logrus.Fields{"model": req.Model.Name, "version": req.Model.Version}))
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if err := ctx.Err(); err != nil {
		m.close()
		d.log.WithFields(logrus.Fields{"model": req.Model.Name, "version": req.Model.Version}).Warn("load finished after the core gave up on it; discarded")
		return nil, status.FromContextError(err).Err()
	}
	if from := req.TakeSequencesFrom; from != nil && m.seqs != nil {
		if v, ok := d.models.Load(*from); ok && v.(*model).seqs != nil {
			m.seqs = m.seqs.takeOver(v.(*model).seqs)
		}
	}
	if old, ok := d.models.Swap(req.Model, m); ok {
		old.(*model).close()
	}
	return m.info, nil
}

// Unload closes a model version's sessions once its requests are done.
func (d *Device) Unload(_ context.Context, key device.ModelKey) error {
	if old, ok := d.models.LoadAndDelete(key); ok {
		old.(*model).close()
	}
	return nil
}

// Infer runs one request.
func (d *Device) Infer(ctx context.Context, req *device.InferRequest) (*device.InferResponse, error) {
	v, ok := d.models.Load(req.Model)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "model %s version %d is not loaded in the %s plugin", req.Model.Name, req.Model.Version, d.cfg.Name)
	}
	m := v.(*model)
	if !m.acquire() {
		return nil, status.Errorf(codes.NotFound, "model %s version %d is being unloaded", req.Model.Name, req.Model.Version)
	}
	defer m.release()
	return m.infer(ctx, d.env, req)
}
