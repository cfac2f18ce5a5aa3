// Package pluginhost finds, starts and stops device plugin processes. Each
// device family (CPU, GPU, ...) runs in one ovms-device-<family> process,
// started on first use through hashicorp/go-plugin with a fresh
// shared-memory arena handed over as file descriptor 3.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/logging"
)

// BinaryPrefix is the file name prefix of device plugin executables.
const BinaryPrefix = "ovms-device-"

// DefaultArenaBytes is the default size of each plugin's shared-memory arena.
// Memory is committed only as it is used.
const DefaultArenaBytes = 1 << 30

// Config configures a Host.
type Config struct {
	// Dirs are searched in order for plugin binaries. Empty means the
	// directory of the running executable.
	Dirs []string
	// ArenaBytes is the size of each plugin's arena (0 = DefaultArenaBytes).
	ArenaBytes uint64
	// Env are extra KEY=value variables for every plugin process (e.g.
	// OVMS_CPU_EXTENSION).
	Env []string
	// Logger receives host and plugin logs.
	Logger *logrus.Entry
}

// Host owns the plugin processes of one ovms server.
type Host struct {
	cfg Config
	log *logrus.Entry

	mu        sync.Mutex
	instances map[Key]*Instance // the running (or restarting) instance of each process
	closed    bool
	onRestart RestartHandler
	// onExit is read without mu (exited runs while a restart holds it) and
	// may be set after the first Get (the server starts plugins ahead of
	// the models, before it sets its handlers).
	onExit atomic.Pointer[ExitHandler]
}

// New returns a Host; no process starts until Get is called.
func New(cfg Config) *Host {
	if cfg.ArenaBytes == 0 {
		cfg.ArenaBytes = DefaultArenaBytes
	}
	if len(cfg.Dirs) == 0 {
		if exe, err := os.Executable(); err == nil {
			cfg.Dirs = []string{filepath.Dir(exe)}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = logging.Component("plugin_host")
	}
	return &Host{cfg: cfg, log: cfg.Logger, instances: map[Key]*Instance{}}
}

// Family maps a target_device value to the device family whose plugin
// serves it, e.g. "CPU" -> "cpu", "GPU.1" -> "gpu".
func Family(targetDevice string) string {
	d := strings.ToLower(strings.TrimSpace(targetDevice))
	if i := strings.IndexAny(d, ".:("); i >= 0 {
		d = d[:i]
	}
	if d == "nvidia" { // OVMS's name for the NVIDIA plugin
		d = "cuda"
	}
	return d
}

// Find returns the path of the plugin binary of a family.
func (h *Host) Find(family string) (string, error) {
	name := BinaryPrefix + family
	var tried []string
	for _, dir := range h.cfg.Dirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("device plugin %s not found (looked for %s; set --plugin_dir)", name, strings.Join(tried, ", "))
}

// Get returns the running instance of a family's shared process, starting
// it if needed.
func (h *Host) Get(ctx context.Context, family string) (*Instance, error) {
	return h.GetKey(ctx, Key{Family: family})
}

// GetKey returns the running instance of one plugin process (a family's
// shared one, or one model's), starting it if needed.
func (h *Host) GetKey(ctx context.Context, key Key) (*Instance, error) {
	return h.get(ctx, key, "")
}

// GetBinary is GetKey for a process whose executable is given (a custom
// node library's), instead of found by family; it is restarted from the
// same path.
func (h *Host) GetBinary(ctx context.Context, key Key, path string) (*Instance, error) {
	return h.get(ctx, key, path)
}

func (h *Host) get(ctx context.Context, key Key, path string) (*Instance, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("plugin host is shutting down")
	}
	if inst, ok := h.instances[key]; ok {
		if !inst.Exited() {
			return inst, nil
		}
		return nil, fmt.Errorf("the %s device plugin is restarting", key)
	}
	if path == "" {
		p, err := h.Find(key.Family)
		if err != nil {
			return nil, err
		}
		path = p
	}
	inst, err := start(ctx, h.spec(key, path))
	if err != nil {
		return nil, err
	}
	h.instances[key] = inst
	go h.supervise(inst)
	return inst, nil
}

// Stop ends one plugin process for good (a model served in its own process
// is gone); it is not restarted. It does not wait for the process to end.
func (h *Host) Stop(key Key) {
	h.mu.Lock()
	inst, ok := h.instances[key]
	delete(h.instances, key)
	h.mu.Unlock()
	if ok {
		h.log.WithField("plugin", key.String()).Info("stopping the device plugin: no model uses it")
		go inst.Kill()
	}
}

func (h *Host) spec(key Key, path string) spec {
	return spec{key: key, path: path, arenaBytes: h.cfg.ArenaBytes, env: h.cfg.Env, log: h.log, onExit: h.exited}
}

// Close stops every plugin process and unmaps the arenas.
func (h *Host) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for key, inst := range h.instances {
		inst.Kill()
		delete(h.instances, key)
	}
}

// Installed lists the device families whose plugin binaries are in the
// search folders (the first folder that has one wins), sorted.
func (h *Host) Installed() []string {
	seen := map[string]bool{}
	var out []string
	for _, dir := range h.cfg.Dirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			fam, ok := strings.CutPrefix(e.Name(), BinaryPrefix)
			if !ok || fam == "" || seen[fam] {
				continue
			}
			if _, err := h.Find(fam); err == nil {
				seen[fam] = true
				out = append(out, fam)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Each calls fn for every running plugin instance (metrics read their
// arenas). fn must not call back into h.
func (h *Host) Each(fn func(*Instance)) {
	h.mu.Lock()
	insts := make([]*Instance, 0, len(h.instances))
	for _, inst := range h.instances {
		insts = append(insts, inst)
	}
	h.mu.Unlock()
	for _, inst := range insts {
		if inst != nil && inst.Arena != nil && !inst.Gone() {
			fn(inst)
		}
	}
}
