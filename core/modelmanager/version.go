package modelmanager

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/device"
)

// State is a model version state; the numbers are TF Serving's.
type State int32

// The version states of OVMS and TF Serving.
const (
	StateUnknown   State = 0
	StateStart     State = 10
	StateLoading   State = 20
	StateAvailable State = 30
	StateUnloading State = 40
	StateEnd       State = 50
)

// String is the state name used in status JSON.
func (s State) String() string {
	switch s {
	case StateStart:
		return "START"
	case StateLoading:
		return "LOADING"
	case StateAvailable:
		return "AVAILABLE"
	case StateUnloading:
		return "UNLOADING"
	case StateEnd:
		return "END"
	}
	return "UNKNOWN"
}

// ErrorCode is the status code reported beside the state.
type ErrorCode int32

// The error codes OVMS reports in version status (tensorflow.error.Code).
const (
	ErrOK                 ErrorCode = 0
	ErrUnknown            ErrorCode = 2
	ErrFailedPrecondition ErrorCode = 9
)

// String is the code name, which is also the status error_message in OVMS.
func (c ErrorCode) String() string {
	switch c {
	case ErrOK:
		return "OK"
	case ErrFailedPrecondition:
		return "FAILED_PRECONDITION"
	}
	return "UNKNOWN"
}

// loadWait is how long a request waits for a version that is loading.
var loadWait = 10 * time.Second

// Version is one version of a model. Its metadata and device are fixed once
// it is AVAILABLE; state changes are rare and guarded, while the request
// path only reads atomics.
type Version struct {
	// Model is the servable name.
	Model string
	// Number is the version number.
	Number int64
	// Path is the version folder: local, or a remote prefix.
	Path string
	// local is the folder the plugin loads from (Path, or a downloaded copy).
	local string

	state atomic.Int32
	code  atomic.Int32
	refs  atomic.Int64

	mu      sync.Mutex
	changed chan struct{} // closed on every state change

	info    *device.ModelInfo
	inst    *pluginhost.Instance
	batcher *batcher // nil unless dynamic batching is configured

	// key names the version in its plugin: the model name, with "@<gen>"
	// for a model reloaded with a new configuration, so that the new
	// version loads while the old one still serves.
	key device.ModelKey
	// names renames tensors between the API and the model
	// (mapping_config.json).
	names *names
	// dropLocal removes a downloaded copy of the version (remote
	// repositories), once it is unloaded.
	dropLocal func()
	// shapeAuto and batchAuto are shape/batch_size "auto": a request of
	// another shape reloads the version with it (see autoReshape).
	shapeAuto, batchAuto bool
	// auto, for a version loaded for a request's shape, is that shape.
	auto *autoShape
	// mgr and mod let a version reload itself for "auto".
	mgr *Manager
	mod *Model
	// more are the further instances of a MULTI version, and busy the
	// requests in flight on each backend (v.inst first).
	more []*pluginhost.Instance
	busy []atomic.Int64
	// layouts are the inputs' configured layouts as requests see them
	// (for binary image inputs), nil when none is set.
	layouts map[string]string
	// slots bounds the requests in the plugin at once (nireq); nil when
	// nireq is 0.
	slots chan struct{}
	// kept marks a version that serves on although the policy dropped it,
	// because its replacement failed to load (warned once).
	kept atomic.Bool
	// recovering marks a version whose plugin process ended: it is LOADING
	// until Recover has loaded it into the restarted process (crash.go).
	recovering atomic.Bool
	// counted are the plugin processes this version is counted as using,
	// reserved those a load in progress uses (isolation.go; under the
	// manager's useMu).
	counted, reserved []pluginhost.Key
	// met is the version's metrics instruments; nil when metrics are off.
	met *metrics.Version
	// run serves the requests of a graph version (graph.go); nil for a
	// model's.
	run GraphRunner
	// poison lists requests that crashed this version's plugin twice
	// (poison.go).
	poison poisonList
}

func newVersion(mod *Model, number int64, path string) *Version {
	v := &Version{Model: mod.Name, Number: number, Path: path, changed: make(chan struct{}), mod: mod}
	v.key = device.ModelKey{Name: mod.pluginName(), Version: number}
	v.state.Store(int32(StateStart))
	return v
}

// Status is the version's state and error code.
func (v *Version) Status() (State, ErrorCode) {
	return State(v.state.Load()), ErrorCode(v.code.Load())
}

// Metrics is the version's metrics instruments; nil (a no-op) when
// metrics are off.
func (v *Version) Metrics() *metrics.Version { return v.met }

// Info is the model metadata; nil until the version has loaded.
func (v *Version) Info() *device.ModelInfo { return v.info }

func (v *Version) setState(s State, c ErrorCode) {
	v.mu.Lock()
	v.setStateLocked(s, c)
	v.mu.Unlock()
}

// setStateLocked is setState with v.mu held.
func (v *Version) setStateLocked(s State, c ErrorCode) {
	v.state.Store(int32(s))
	v.code.Store(int32(c))
	close(v.changed)
	v.changed = make(chan struct{})
}

func (v *Version) changes() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// Acquire pins an AVAILABLE version for one request; Release undoes it.
// A version in LOADING is waited for up to ten seconds when wait is set.
func (v *Version) Acquire(ctx context.Context, wait bool) error {
	deadline := time.Now().Add(loadWait)
	for {
		v.refs.Add(1)
		s := State(v.state.Load())
		if s == StateAvailable {
			return nil
		}
		v.refs.Add(-1)
		if s >= StateUnloading {
			return apierr.New(apierr.ModelVersionNotLoadedAnymore)
		}
		left := time.Until(deadline)
		if !wait || left <= 0 {
			return apierr.New(apierr.ModelVersionNotLoadedYet)
		}
		ch := v.changes()
		if State(v.state.Load()) != s {
			continue
		}
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return apierr.New(apierr.ModelVersionNotLoadedYet)
		}
		t.Stop()
	}
}

// Release ends a request started by Acquire.
func (v *Version) Release() { v.refs.Add(-1) }

// drain waits until no request holds the version.
func (v *Version) drain(ctx context.Context) {
	for v.refs.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// FixedShapes reports whether the version's input shapes stay as they are
// for every request (not shape or batch_size "auto", which reload the
// version with a request's shape).
func (v *Version) FixedShapes() bool { return !v.shapeAuto && !v.batchAuto }
