package pluginhost

import (
	"context"
	"fmt"
	"strings"
)

// Key names one plugin process of a host: a device family and, when each
// model runs in its own process (--plugin_isolation model), that model.
type Key struct {
	Family string
	Model  string // empty: the family's shared process
}

// String is how logs name the process: "cpu", or "cpu/resnet".
func (k Key) String() string {
	if k.Model == "" {
		return k.Family
	}
	return k.Family + "/" + k.Model
}

// Isolation says how models share plugin processes.
type Isolation string

// The --plugin_isolation values.
const (
	// IsolationDevice runs every model of a device family in one process.
	IsolationDevice Isolation = "device"
	// IsolationModel runs each model in its own process, so that a crash
	// (a poison request, a faulty kernel) takes down only that model.
	IsolationModel Isolation = "model"
)

// ParseIsolation checks a --plugin_isolation value.
func ParseIsolation(s string) (Isolation, error) {
	switch v := Isolation(strings.ToLower(strings.TrimSpace(s))); v {
	case IsolationDevice, IsolationModel:
		return v, nil
	}
	return "", fmt.Errorf("plugin_isolation should be device or model, got %q", s)
}

// Hold keeps the instance's arena mapped for a request that is about to
// write inputs into it, or whose response aliases it, until Unhold. It
// reports false, holding nothing, once the process has ended (the request
// must go elsewhere). The arena of an ended process is unmapped as soon as
// its last holder lets go: responses still being written from it finish,
// and a crash loop keeps no arenas.
func (i *Instance) Hold() bool {
	i.holds.Add(1)
	if i.gone.Load() {
		i.Unhold()
		return false
	}
	return true
}

// Unhold ends a Hold.
func (i *Instance) Unhold() {
	if i.holds.Add(-1) == 0 && i.gone.Load() {
		i.freeArena()
	}
}

// Gone reports whether the instance has ended: its process exited or was
// killed. A request may find it gone between picking it and Hold.
func (i *Instance) Gone() bool { return i.gone.Load() }

// AwaitGone waits until the host has handled the end of the instance's
// process (the exit handler has run and its requests in flight have
// failed); false if ctx ends first. An attached instance never ends.
func (i *Instance) AwaitGone(ctx context.Context) bool {
	if i.done == nil {
		return ctx.Err() == nil
	}
	select {
	case <-i.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// retire marks the instance ended and unmaps its arena if nothing holds it.
func (i *Instance) retire() {
	if i.gone.Swap(true) {
		return
	}
	if i.holds.Load() == 0 {
		i.freeArena()
	}
}

func (i *Instance) freeArena() {
	if !i.arenaFreed.Swap(true) && i.Arena != nil {
		_ = i.Arena.Close()
	}
}

// Quarantine admits one retried request at a time to the process (the
// requests in flight when a plugin died are all suspects of having killed
// it; run alone, one that kills it again is known). It waits for its turn
// and reports false, admitting nothing, if the process ends or ctx is done
// first. Call release when the request is done.
func (i *Instance) Quarantine(ctx context.Context) (release func(), ok bool) {
	select {
	case <-i.suspects:
		return func() { i.suspects <- struct{}{} }, true
	case <-i.done: // nil for attached instances: they never end
	case <-ctx.Done():
	}
	return nil, false
}

// newSuspects is a free quarantine.
func newSuspects() chan struct{} {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	return ch
}
