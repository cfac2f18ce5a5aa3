package modelmanager

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/tensor"
)

// errGone is the cause of a try that found its plugin process ended before
// the request reached it.
var errGone = errors.New("the device plugin process ended before the request reached it")

// crashError is a try that failed because its plugin process ended.
type crashError struct {
	v    *Version // the version the try ran on
	inst *pluginhost.Instance
	err  error
	// sent: the request was in the plugin when it died (it may have killed
	// it); otherwise it never got there.
	sent bool
	fp   *fingerprint // the inputs' fingerprint, for retries
}

func (e *crashError) Error() string { return e.public().Error() }

func (e *crashError) Unwrap() error { return e.err }

// public is what a client gets when the request cannot be run again.
func (e *crashError) public() error {
	return apierr.Wrap(apierr.DeviceUnavailable, e.err, "the %s device plugin (%s) stopped during the request to model %s version %d; it is being restarted",
		e.inst.Family, filepath.Base(e.inst.Path), e.v.Model, e.v.Number)
}

// maxUnsent bounds how often a request waits for its plugin to come back
// without having reached it (each wait bounded by loadWait and ctx).
const maxUnsent = 3

// Infer runs a request on the version (see infer). A request whose plugin
// process ends under it is not lost: the version is LOADING until the
// restarted plugin has it again (recover.go), and the request runs again
// there, once, from the data its client sent (the core still holds it):
// alone in the process, so that a request that kills the plugin again is
// known. That one fails with an error naming the model and version; its
// fingerprint is logged, and the same request is refused for a while
// (poison.go). A request that never reached the dead process (it picked it
// just before it died) waits for the restart without spending its retry.
// Waits are bounded by the request's context and loadWait.
//
// The caller's pin on v is lent back while the request waits, so that the
// recovery can drain and reload the version; it is taken again before
// Infer returns.
func (v *Version) Infer(ctx context.Context, req *tensor.Request) (*tensor.Response, error) {
	if v.run != nil {
		return v.graphInfer(ctx, req)
	}
	if v.stateful() {
		if err := v.takeSequence(req); err != nil {
			return nil, err
		}
	}
	resp, err := v.infer(ctx, req, attempt{})
	var crash *crashError
	if !errors.As(err, &crash) {
		return resp, err
	}
	mgr := v.mgr // read while pinned: a reload writes it
	v.Release()
	defer v.refs.Add(1) // the caller's pin, for its Release
	retried := false
	for unsent := 0; ; {
		switch {
		case crash.sent && retried:
			return nil, crash.v.poisoned(crash)
		case crash.sent:
			retried = true
			crash.v.mod.log.WithFields(logrus.Fields{"version": crash.v.Number, "plugin": crash.inst.Key.String()}).
				Info("the device plugin ended during a request; it runs again once the plugin is back")
		default:
			if unsent++; unsent > maxUnsent {
				return nil, crash.public()
			}
		}
		// Once the host has handled the exit, the versions on the dead
		// process are LOADING (PluginExited) and current waits for them.
		if !crash.inst.AwaitGone(ctx) {
			return nil, crash.public()
		}
		cur, err := v.current(ctx, mgr) // waits while the version is LOADING
		if err != nil {
			return nil, crash.public()
		}
		resp, err = cur.infer(ctx, req, attempt{retry: retried})
		cur.Release()
		if !errors.As(err, &crash) {
			return resp, err
		}
	}
}

// poisoned records a request that crashed the plugin on its retry too and
// returns its error.
func (v *Version) poisoned(crash *crashError) error {
	id := "unknown"
	if crash.fp != nil {
		v.poison.add(crash.fp)
		id = crash.fp.ID()
	}
	v.mod.log.WithFields(logrus.Fields{"version": v.Number, "plugin": crash.inst.Key.String(), "fingerprint": id,
		"inputs": crash.fp.shapes(), "refused_for": poisonTTL}).
		Error("a request crashed its device plugin twice: it is not run again, and the same request is refused for a while")
	return apierr.Wrap(apierr.InferenceError, crash.err, "the request to model %s version %d crashed the %s device plugin (%s) twice; it is not retried again (request fingerprint %s)",
		v.Model, v.Number, crash.inst.Family, filepath.Base(crash.inst.Path), id)
}

// current pins the version that now serves v's model and number (v itself,
// or what replaced it: a reload for another shape, a new configuration),
// waiting for one that is LOADING.
func (v *Version) current(ctx context.Context, mgr *Manager) (*Version, error) {
	if mgr != nil {
		return mgr.Acquire(ctx, v.Model, v.Number)
	}
	return v.mod.Acquire(ctx, v.Number)
}
