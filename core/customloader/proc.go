package customloader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// errRestarting is wrapped by the error of a call made while the loader's
// process is being started again.
var errRestarting = errors.New("the loader process is restarting")

// proc is one loader's process, restarted when it ends.
type proc struct {
	set   settings
	log   *logrus.Entry
	ready chan struct{} // closed once the first start was tried

	mu      sync.Mutex
	client  *loaderhost.Client // nil while (re)starting
	pc      *plugin.Client
	pid     int
	err     error // why client is nil
	stopped bool
}

// current is the running process's client, or why there is none.
func (p *proc) current() (*loaderhost.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		if p.err != nil {
			return nil, p.err
		}
		return nil, fmt.Errorf("custom loader %s: %w", p.set.name, errRestarting)
	}
	return p.client, nil
}

// run starts the process and keeps it running until stop: a process that
// ends is started again (at once if it had run for a while, else after a
// backoff that doubles up to backoffMax). When the first start fails (no
// binary, a refused checksum, Init failed), the loads waiting fail with the
// reason and the loader is forgotten, so the next load tries again.
func (p *proc) run(h *Host) {
	delay := time.Duration(0)
	first := true
	for {
		if delay > 0 {
			time.Sleep(delay)
		}
		if p.isStopped() {
			return
		}
		started := time.Now()
		err := p.start(h.dirs)
		if first {
			close(p.ready)
			first = false
			if err != nil {
				p.log.WithError(err).Error("starting the custom loader failed")
				h.forget(p)
				return
			}
		}
		if err != nil {
			p.log.WithError(err).WithField("retry_in", max(delay*2, backoffFirst)).Error("restarting the custom loader failed")
			delay = min(max(delay*2, backoffFirst), backoffMax)
			continue
		}
		p.mu.Lock()
		pc, pid, c := p.pc, p.pid, p.client
		p.mu.Unlock()
		p.watch(pc, pid, c)
		p.mu.Lock()
		p.client, p.err = nil, nil
		stopped := p.stopped
		p.mu.Unlock()
		pc.Kill() // releases the connection of the ended process
		if stopped {
			return
		}
		lived := time.Since(started).Round(time.Millisecond)
		p.log.WithFields(logrus.Fields{"pid": pid, "lived": lived}).Error("custom loader process ended; restarting it (loads through it fail meanwhile; served models are not affected)")
		if lived > 10*time.Second {
			delay = 0
		} else {
			delay = min(max(delay*2, backoffFirst), backoffMax)
		}
	}
}

// Health checks: a loader that does not answer Info healthFailures times
// in a row (healthEvery apart, each within healthTimeout) is hung; it is
// killed, and so restarted.
const (
	healthEvery    = time.Second
	healthTimeout  = 2 * time.Second
	healthFailures = 3
)

// watch returns once the process has ended, killing it first if it stops
// answering its health check.
func (p *proc) watch(pc *plugin.Client, pid int, c *loaderhost.Client) {
	next := time.Now().Add(healthEvery)
	failures := 0
	for !pc.Exited() {
		time.Sleep(exitPoll)
		if time.Now().Before(next) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		_, _, err := c.Info(ctx)
		cancel()
		next = time.Now().Add(healthEvery)
		if err == nil || pc.Exited() {
			failures = 0
			continue
		}
		if failures++; failures >= healthFailures {
			p.log.WithError(err).WithField("pid", pid).Error("custom loader does not answer its health check; killing it")
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// start launches the process and initializes the loader.
func (p *proc) start(dirs []string) error {
	path, err := Find(p.set.library, p.set.name, dirs)
	if err == nil {
		var c *loaderhost.Client
		var pc *plugin.Client
		var pid int
		if c, pc, pid, err = Start(path, p.log); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
			name, version, _ := c.Info(ctx)
			err = c.Init(ctx, p.set.configFile)
			cancel()
			if err != nil {
				pc.Kill()
				err = fmt.Errorf("custom loader %s: %w", p.set.name, err)
			} else {
				p.mu.Lock()
				if p.stopped {
					p.mu.Unlock()
					pc.Kill()
					return errors.New("stopped")
				}
				p.client, p.pc, p.pid, p.err = c, pc, pid, nil
				p.mu.Unlock()
				p.log.WithFields(logrus.Fields{"pid": pid, "path": path, "plugin": name, "plugin_version": version, "config_file": p.set.configFile}).Info("custom loader started")
				return nil
			}
		}
	}
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	return err
}

func (p *proc) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// stop ends the loader for good: Close (OVMS's loaderDeInit), then the
// process.
func (p *proc) stop() {
	p.mu.Lock()
	p.stopped = true
	c, pc := p.client, p.pc
	p.mu.Unlock()
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Close(ctx)
		cancel()
	}
	if pc != nil {
		pc.Kill()
	}
}
