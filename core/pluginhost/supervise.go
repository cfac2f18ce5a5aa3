package pluginhost

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
)

// Supervision settings: how a hung plugin is noticed and how restarts back
// off.
const (
	healthEvery    = time.Second
	healthTimeout  = 2 * time.Second
	healthFailures = 3
	backoffFirst   = 100 * time.Millisecond
	backoffMax     = 5 * time.Second
	// stableAfter: a plugin that lived this long restarts at once.
	stableAfter = 10 * time.Second
)

// RestartHandler is told about a plugin that was started again after its
// process ended, so that the models it served can be loaded into it. The
// new instance's Key says which process it replaces.
type RestartHandler func(family string, inst *Instance)

// ExitHandler is told that a plugin process has ended, before its requests
// in flight fail and before it is restarted (so that the model versions it
// served can stop taking requests at once). It must not block.
type ExitHandler func(inst *Instance)

// SetRestartHandler installs fn; a restart before it is installed is not
// handed on (the server installs it before any model loads).
func (h *Host) SetRestartHandler(fn RestartHandler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onRestart = fn
}

// SetExitHandler installs fn; an exit before it is installed is not handed
// on (the server installs it before any model loads).
func (h *Host) SetExitHandler(fn ExitHandler) {
	h.onExit.Store(&fn)
}

// exited runs the exit handler for an instance whose process ended. It
// does not take h.mu, which a restart holds while a process starts.
func (h *Host) exited(inst *Instance) {
	if fn := h.onExit.Load(); fn != nil && *fn != nil {
		(*fn)(inst)
	}
}

// supervise watches one instance: a plugin that stops answering its
// health check is killed; a plugin whose process ended is started again
// with capped exponential backoff (immediately if it had run for a while)
// and the restart handler is told. An instance that Stop or Close ended
// is not restarted.
func (h *Host) supervise(inst *Instance) {
	key := inst.Key
	log := h.log.WithFields(logrus.Fields{"plugin": key.String()})
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	failures := 0
	for running := true; running; {
		select {
		case <-inst.Done():
			running = false
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
			_, err := inst.Device.Info(ctx)
			cancel()
			if err == nil {
				failures = 0
				continue
			}
			if failures++; failures >= healthFailures {
				log.WithError(err).WithField("pid", inst.pid).Error("device plugin does not answer its health check; killing it")
				inst.killProcess()
			}
		}
	}
	if !h.current(inst) {
		return // Stop or Close ended it
	}
	lived := time.Since(inst.started).Round(time.Millisecond)
	log.WithFields(logrus.Fields{"pid": inst.pid, "lived": lived}).Error("device plugin process ended; restarting it (its requests in flight are retried once it serves again)")
	delay := time.Duration(0)
	if lived < stableAfter {
		delay = backoffFirst
	}
	for {
		if delay > 0 {
			time.Sleep(delay)
		}
		h.mu.Lock()
		if h.closed || h.instances[key] != inst {
			h.mu.Unlock()
			return
		}
		next, err := start(context.Background(), h.spec(key, inst.Path))
		if err == nil {
			h.instances[key] = next
			handler := h.onRestart
			h.mu.Unlock()
			log.WithField("pid", next.pid).Info("device plugin restarted")
			go h.supervise(next)
			if handler != nil {
				handler(key.Family, next)
			}
			return
		}
		h.mu.Unlock()
		log.WithError(err).WithField("retry_in", max(delay*2, backoffFirst)).Error("restarting the device plugin failed")
		delay = min(max(delay*2, backoffFirst), backoffMax)
	}
}

// current reports whether inst is still its key's instance on a running
// host.
func (h *Host) current(inst *Instance) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed && h.instances[inst.Key] == inst
}
