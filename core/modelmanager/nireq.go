package modelmanager

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
)

// SetNireqTimeout bounds how long a request waits for one of a version's
// nireq slots (0: as long as its context lives). Call it before Apply.
func (m *Manager) SetNireqTimeout(d time.Duration) { m.nireqTimeout = d }

// slot takes one of the version's nireq inference slots (none to take when
// nireq is 0), waiting in line up to the manager's bound. The returned
// func gives it back.
func (v *Version) slot(ctx context.Context) (func(), error) {
	slots := v.slots // a reload after a plugin crash makes new ones
	if slots == nil {
		return func() {}, nil
	}
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	default:
	}
	var timeout <-chan time.Time
	if d := v.mgr.nireqTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-timeout:
		return nil, apierr.Newf(apierr.NireqTimeout, "model %s version %d has all its %d inference requests (nireq) busy for %v; raise nireq or --nireq_timeout_ms",
			v.Model, v.Number, cap(slots), v.mgr.nireqTimeout)
	case <-ctx.Done():
		return nil, apierr.Wrap(apierr.NireqTimeout, ctx.Err(), "model %s version %d: the request ended while waiting for one of its %d inference requests (nireq)",
			v.Model, v.Number, cap(slots))
	}
}

// streamCount is the execution streams the ONNX Runtime plugins run for a
// plugin_config (their rule, devices/ortdevice streams): NUM_STREAMS (or
// CPU_THROUGHPUT_STREAMS) when a number, one per two cores for AUTO or the
// THROUGHPUT hint, else one. It feeds ovms_streams.
func streamCount(pc map[string]string) int {
	for _, k := range []string{"NUM_STREAMS", "CPU_THROUGHPUT_STREAMS"} {
		s, ok := pc[k]
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			return n
		}
		if strings.Contains(strings.ToUpper(s), "AUTO") {
			return max(1, runtime.NumCPU()/2)
		}
	}
	if strings.EqualFold(pc["PERFORMANCE_HINT"], "THROUGHPUT") {
		return max(1, runtime.NumCPU()/2)
	}
	return 1
}
