// Package customnode runs custom node libraries (custom_node_library_config_list)
// for pipelines: each library is a program built with the plugins/customnode
// SDK, started in its own supervised plugin process through core/pluginhost
// (arena, channel, restart with backoff), and each pipeline node that uses
// it is loaded into that process with its params, like a model version.
// A crashed library process fails only the requests it was running; it is
// restarted and its nodes are loaded into it again.
package customnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins/customnode"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Family is the pluginhost family of library processes; the Key's Model is
// the library name ("customnode/argmax" in logs).
const Family = "customnode"

// ErrUnknownLibrary is returned (wrapped) by Open for a library that is not
// configured, did not start or was removed (OVMS has no such library
// loaded then either): the pipeline reports OVMS's missing-library error.
var ErrUnknownLibrary = errors.New("custom node library is not in custom_node_library_config_list")

// startTimeout bounds the start of a library process and a node's Load.
const startTimeout = 30 * time.Second

// restartWait is how long a request waits for a restarting library.
const restartWait = 10 * time.Second

// Host runs each custom node library in its own supervised plugin process.
type Host struct {
	ph   *pluginhost.Host
	log  *logrus.Entry
	mu   sync.Mutex
	libs map[string]*library
	seq  atomic.Uint64
}

// library is one configured library and its process.
type library struct {
	name, path string
	key        pluginhost.Key
	log        *logrus.Entry

	cur atomic.Pointer[pluginhost.Instance] // inst, read without the lock per request

	mu      sync.Mutex
	inst    *pluginhost.Instance // nil while starting, restarting, failed or removed
	ready   chan struct{}        // closed once inst serves (or the library is gone)
	err     error                // why the library does not serve (start failure, removal)
	nodes   map[*Node]struct{}
	removed bool
}

// New returns a Host whose library processes are started through a plugin
// host of their own, made with cfg (its Dirs are not used: base_path names
// each program). No process starts before Apply.
func New(cfg pluginhost.Config, log *logrus.Entry) *Host {
	if log == nil {
		log = logrus.WithField("component", "custom_node")
	}
	cfg.Logger = log
	h := &Host{ph: pluginhost.New(cfg), log: log, libs: map[string]*library{}}
	h.ph.SetExitHandler(h.exited)
	h.ph.SetRestartHandler(h.restarted)
	return h
}

// Resolve finds a library's program: base_path itself, or the one
// ovms-node-* executable in the folder it names.
func Resolve(basePath string) (string, error) {
	st, err := os.Stat(basePath)
	if err != nil {
		return "", fmt.Errorf("custom node library %s: %w", basePath, err)
	}
	if !st.IsDir() {
		if st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("custom node library %s is not an executable (build it with the plugins/customnode SDK)", basePath)
		}
		return basePath, nil
	}
	ents, err := os.ReadDir(basePath)
	if err != nil {
		return "", fmt.Errorf("custom node library %s: %w", basePath, err)
	}
	var found []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), customnode.BinaryPrefix) && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil && info.Mode()&0o111 != 0 {
				found = append(found, filepath.Join(basePath, e.Name()))
			}
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("custom node library folder %s holds %d %s* executables, want one (or name the program in base_path)", basePath, len(found), customnode.BinaryPrefix)
	}
	return found[0], nil
}

// Apply makes the running libraries those of libs: new ones are started,
// removed ones stopped (their nodes fail from then on), and a library
// whose base_path changed is started anew from its new program (its old
// nodes fail; pipelines open them again). A library that fails to start is
// logged and left out (Open then fails for it); the error joins them all.
func (h *Host) Apply(ctx context.Context, libs []config.NodeLibrary) error {
	want := map[string]string{}
	for _, l := range libs {
		want[l.Name] = l.BasePath
	}
	h.mu.Lock()
	var stale []*library
	for name, lib := range h.libs {
		if p, ok := want[name]; !ok || p != lib.path {
			stale = append(stale, lib)
			delete(h.libs, name)
		}
	}
	var fresh []*library
	for _, l := range libs {
		if _, ok := h.libs[l.Name]; ok {
			continue
		}
		lib := &library{name: l.Name, path: l.BasePath, key: pluginhost.Key{Family: Family, Model: l.Name},
			log: h.log.WithField("library", l.Name), ready: make(chan struct{}), nodes: map[*Node]struct{}{}}
		h.libs[l.Name] = lib
		fresh = append(fresh, lib)
	}
	h.mu.Unlock()
	for _, lib := range stale {
		lib.remove(fmt.Errorf("%w: %s was removed from the configuration or its base_path changed", ErrUnknownLibrary, lib.name))
		h.ph.Stop(lib.key)
	}
	var errs []error
	for _, lib := range fresh {
		if err := h.start(ctx, lib); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// start launches a library's process.
func (h *Host) start(ctx context.Context, lib *library) error {
	path, err := Resolve(lib.path)
	var inst *pluginhost.Instance
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, startTimeout)
		inst, err = h.ph.GetBinary(sctx, lib.key, path)
		cancel()
	}
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if err != nil {
		lib.err = fmt.Errorf("%w: %s did not start: %w", ErrUnknownLibrary, lib.name, err)
		lib.log.WithError(err).WithField("base_path", lib.path).Error("custom node library did not start")
		close(lib.ready)
		return lib.err
	}
	lib.setInst(inst)
	close(lib.ready)
	lib.log.WithFields(logrus.Fields{"path": path, "pid": inst.Pid()}).Info("custom node library started")
	return nil
}

// remove marks a library gone: its nodes fail with err.
func (l *library) remove(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removed, l.err = true, err
	l.setInst(nil)
	select {
	case <-l.ready:
	default:
		close(l.ready)
	}
}

// lib returns the library named name.
func (h *Host) lib(name string) (*library, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.libs[name]
	return l, ok
}

// byKey returns the library whose process key is k.
func (h *Host) byKey(k pluginhost.Key) *library {
	if l, ok := h.lib(k.Model); ok && l.key == k {
		return l
	}
	return nil
}

// exited runs when a library's process ended: new requests wait for the
// restart instead of reaching the dead process.
func (h *Host) exited(inst *pluginhost.Instance) {
	l := h.byKey(inst.Key)
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.inst == inst {
		l.setInst(nil)
		l.ready = make(chan struct{})
	}
	l.mu.Unlock()
	l.log.WithField("pid", inst.Pid()).Error("custom node library process ended; its requests in flight fail and it is restarted")
}

// restarted loads a restarted library's nodes into its new process, then
// lets requests through.
func (h *Host) restarted(_ string, inst *pluginhost.Instance) {
	l := h.byKey(inst.Key)
	if l == nil {
		return
	}
	l.mu.Lock()
	nodes := make([]*Node, 0, len(l.nodes))
	for n := range l.nodes {
		nodes = append(nodes, n)
	}
	l.mu.Unlock()
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		_, err := inst.Device.Load(ctx, n.loadRequest())
		cancel()
		n.broken.Store(nil)
		if err != nil {
			e := fmt.Errorf("node %s did not initialize again after its library restarted: %w", n.name, err)
			n.broken.Store(&e)
			l.log.WithError(err).WithField("node", n.name).Error("custom node did not initialize again after a restart")
		}
	}
	// A node closed meanwhile saw no process to unload it from (or, once
	// this lets requests through, sees this one): unload it here.
	var closed []*Node
	l.mu.Lock()
	for _, n := range nodes {
		if _, ok := l.nodes[n]; !ok {
			closed = append(closed, n)
		}
	}
	if !l.removed {
		l.setInst(inst)
		select {
		case <-l.ready:
		default:
			close(l.ready)
		}
	}
	l.mu.Unlock()
	for _, n := range closed {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		if err := inst.Device.Unload(ctx, n.key); err != nil && !inst.Gone() {
			l.log.WithError(err).WithField("node", n.name).Warn("unloading a custom node failed")
		}
		cancel()
	}
	l.log.WithFields(logrus.Fields{"pid": inst.Pid(), "nodes": len(nodes)}).Info("custom node library restarted")
}

// setInst sets the serving process (l.mu held).
func (l *library) setInst(inst *pluginhost.Instance) {
	l.inst = inst
	l.cur.Store(inst)
}

// serving returns the library's running process, waiting up to
// restartWait (or ctx) for a restart.
func (l *library) serving(ctx context.Context) (*pluginhost.Instance, error) {
	if inst := l.cur.Load(); inst != nil && !inst.Gone() {
		return inst, nil // the hot path: no lock
	}
	for {
		l.mu.Lock()
		inst, ready, err := l.inst, l.ready, l.err
		l.mu.Unlock()
		if inst != nil && !inst.Gone() {
			return inst, nil
		}
		select {
		case <-ready:
			if err != nil {
				return nil, apierr.Wrap(apierr.NodeLibraryMissing, err, "%v", err)
			}
			if inst != nil { // gone, but the exit handler has not run yet
				time.Sleep(5 * time.Millisecond)
			}
			continue
		case <-ctx.Done():
		case <-time.After(restartWait):
		}
		return nil, apierr.Newf(apierr.NodeLibraryUnavailable, "custom node library %s is restarting", l.name)
	}
}

// awaitGone waits until the host has handled the end of inst's process (so
// that serving waits for its restart instead of returning it again).
func (l *library) awaitGone(ctx context.Context, inst *pluginhost.Instance) {
	wctx, cancel := context.WithTimeout(ctx, restartWait)
	defer cancel()
	inst.AwaitGone(wctx)
}

// Libraries lists the libraries and their process ids (0: not running).
func (h *Host) Libraries() map[string]int {
	h.mu.Lock()
	libs := make([]*library, 0, len(h.libs))
	for _, l := range h.libs {
		libs = append(libs, l)
	}
	h.mu.Unlock()
	out := map[string]int{}
	for _, l := range libs {
		l.mu.Lock()
		out[l.name] = 0
		if l.inst != nil && !l.inst.Gone() {
			out[l.name] = l.inst.Pid()
		}
		l.mu.Unlock()
	}
	return out
}

// Library identifies the library configured under name now (nil: none):
// the same value while it stays in custom_node_library_config_list with
// the same base_path (restarts included), another one once it was
// removed, added back or given another base_path. Pipelines validate
// their custom nodes again when it changes.
func (h *Host) Library(name string) any {
	if l, ok := h.lib(name); ok {
		return l
	}
	return nil
}

// Open loads a pipeline node into its library with params (OVMS's
// initialize, getInputsInfo and getOutputsInfo). node names it in logs and
// responses. An unknown library is an error wrapping ErrUnknownLibrary.
func (h *Host) Open(ctx context.Context, library, node string, params map[string]string) (*Node, error) {
	l, ok := h.lib(library)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownLibrary, library)
	}
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	inst, err := l.serving(wctx)
	if err != nil {
		return nil, err
	}
	n := &Node{lib: l, name: node, params: params,
		key: device.ModelKey{Name: fmt.Sprintf("%s#%d", node, h.seq.Add(1)), Version: 1}}
	mi, err := inst.Device.Load(wctx, n.loadRequest())
	if err != nil {
		return nil, apierr.Wrap(apierr.NodeLibraryInitializeFailed, err, "node %s of library %s: %s", node, library, errorMessage(err))
	}
	n.info = mi
	l.mu.Lock()
	l.nodes[n] = struct{}{}
	l.mu.Unlock()
	return n, nil
}

// Close stops every library process.
func (h *Host) Close() {
	h.mu.Lock()
	libs := h.libs
	h.libs = map[string]*library{}
	h.mu.Unlock()
	for _, l := range libs {
		l.remove(errors.New("the server is shutting down"))
	}
	h.ph.Close()
}
