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

// arenaGrace is how long the arena of a dead plugin stays mapped, so that
// responses still being sent from it finish.
var arenaGrace = 30 * time.Second

// RestartHandler is told about a plugin that was started again after its
// process ended, so that the models it served can be loaded into it.
type RestartHandler func(family string, inst *Instance)

// SetRestartHandler installs fn (call before the first Get).
func (h *Host) SetRestartHandler(fn RestartHandler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onRestart = fn
}

// supervise watches one instance: a plugin that stops answering its
// health check is killed; a plugin whose process ended is started again
// with capped exponential backoff (immediately if it had run for a while)
// and the restart handler is told.
func (h *Host) supervise(family string, inst *Instance) {
	log := h.log.WithFields(logrus.Fields{"plugin": family})
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
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return // Close killed it and unmapped its arena
	}
	time.AfterFunc(arenaGrace, func() { _ = inst.Arena.Close() })
	lived := time.Since(inst.started).Round(time.Millisecond)
	log.WithFields(logrus.Fields{"pid": inst.pid, "lived": lived}).Error("device plugin process ended; its requests in flight failed; restarting it")
	delay := time.Duration(0)
	if lived < stableAfter {
		delay = backoffFirst
	}
	for {
		if delay > 0 {
			time.Sleep(delay)
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		next, err := start(context.Background(), inst.Path, family, h.cfg.ArenaBytes, h.cfg.Env, h.log)
		if err == nil {
			h.instances[family] = next
			handler := h.onRestart
			h.mu.Unlock()
			log.WithField("pid", next.pid).Info("device plugin restarted")
			go h.supervise(family, next)
			if handler != nil {
				handler(family, next)
			}
			return
		}
		h.mu.Unlock()
		log.WithError(err).WithField("retry_in", max(delay*2, backoffFirst)).Error("restarting the device plugin failed")
		delay = min(max(delay*2, backoffFirst), backoffMax)
	}
}
