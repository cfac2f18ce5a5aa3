// Package customloader runs the custom model loader plugins of a server
// (custom_loader_config_list): each loader is its own ovms-loader-<name>
// process, started through hashicorp/go-plugin on first use, initialized
// with its loader_config_file, supervised (a process that ends, or stops
// answering its health check and is killed, is started and initialized
// again with capped backoff; calls made meanwhile fail or wait) and
// replaced when its settings change on a config reload. The model manager
// asks it for a version's model files, for the versions to retire, and
// tells it about unloads.
package customloader

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/plugins"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
)

// Host owns the loader processes of one server.
type Host struct {
	dirs []string
	log  *logrus.Entry

	mu     sync.Mutex
	procs  map[string]*proc // by loader name
	closed bool
}

// New returns a Host that looks up bare library_path names in dirs (the
// plugin folders); no process starts until a model needs its loader.
func New(dirs []string, log *logrus.Entry) *Host {
	if log == nil {
		log = logging.Component("custom_loader")
	}
	return &Host{dirs: dirs, log: log, procs: map[string]*proc{}}
}

// settings are what a loader process is started with; a change restarts it.
type settings struct{ name, library, configFile string }

func settingsOf(l *config.CustomLoader) settings {
	return settings{name: l.Name, library: l.Library, configFile: l.ConfigFile}
}

// Load asks the model's loader for a version's model files.
func (h *Host) Load(ctx context.Context, l *config.CustomLoader, req loaderhost.Request) ([]device.ModelFile, error) {
	c, err := h.client(ctx, l)
	if err != nil {
		return nil, err
	}
	req.OptionsJSON = l.Options
	files, err := c.Load(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("custom loader %s: %w", l.Name, err)
	}
	out := make([]device.ModelFile, len(files))
	for i, f := range files {
		out[i] = device.ModelFile{Name: f.Name, Data: f.Data}
	}
	return out, nil
}

// Retired asks the model's loader which of versions must not be served.
func (h *Host) Retired(ctx context.Context, l *config.CustomLoader, req loaderhost.Request, versions []int64) ([]int64, error) {
	c, err := h.client(ctx, l)
	if err != nil {
		return nil, err
	}
	req.OptionsJSON = l.Options
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	vs, err := c.Retired(ctx, req, versions)
	if err != nil {
		return nil, fmt.Errorf("custom loader %s: %w", l.Name, err)
	}
	return vs, nil
}

// Unload tells the model's loader that a version is no longer served;
// failures are only logged (the version is gone either way).
func (h *Host) Unload(ctx context.Context, l *config.CustomLoader, name string, version int64) {
	h.mu.Lock()
	p := h.procs[l.Name]
	h.mu.Unlock()
	if p == nil || p.set != settingsOf(l) {
		return // its loader was replaced: the new one never loaded it
	}
	c, err := p.current()
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		err = c.Unload(ctx, name, version)
		cancel()
	}
	if err != nil {
		h.log.WithError(err).WithFields(logrus.Fields{"loader": l.Name, "model": name, "version": version}).Warn("telling the custom loader about an unload failed")
	}
}

// client returns the running loader for l, starting (or, when its
// settings changed, replacing) its process.
func (h *Host) client(ctx context.Context, l *config.CustomLoader) (*loaderhost.Client, error) {
	set := settingsOf(l)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("the server is shutting down")
	}
	p := h.procs[l.Name]
	if p != nil && p.set != set {
		h.log.WithField("loader", l.Name).Info("custom loader settings changed; restarting it")
		delete(h.procs, l.Name)
		go p.stop()
		p = nil
	}
	if p == nil {
		p = &proc{set: set, log: h.log.WithField("loader", l.Name), ready: make(chan struct{})}
		h.procs[l.Name] = p
		go p.run(h)
	}
	h.mu.Unlock()
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// A process being restarted after a crash is waited for a while.
	deadline := time.Now().Add(restartWait)
	for {
		c, err := p.current()
		if !errors.Is(err, errRestarting) || time.Now().After(deadline) || p.isStopped() {
			return c, err
		}
		select {
		case <-time.After(exitPoll):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// callTimeout bounds Retired and Unload calls (made on every poll and
// under a model's lock): a hung loader must not stall its models' polls.
// Load is bounded by the model load timeout instead.
const callTimeout = 10 * time.Second

// restartWait is how long a call waits for a loader being restarted.
const restartWait = 10 * time.Second

// forget drops p (whose first start failed) if it is still its name's.
func (h *Host) forget(p *proc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.procs[p.set.name] == p {
		delete(h.procs, p.set.name)
	}
}

// Close stops every loader (each is told to Close first).
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	procs := h.procs
	h.procs = map[string]*proc{}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// Pids lists the running loader processes by name (diagnostics).
func (h *Host) Pids() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for name, p := range h.procs {
		p.mu.Lock()
		if p.pid > 0 {
			out[name] = p.pid
		}
		p.mu.Unlock()
	}
	return out
}

// Find locates a loader's executable from its library_path: a file; a
// folder holding ovms-loader-<name> (or a single ovms-loader-* binary); or
// a bare name, looked for as ovms-loader-<name> (or the name itself) in
// dirs.
func Find(library, name string, dirs []string) (string, error) {
	exe := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
	}
	if strings.Contains(library, "/") {
		st, err := os.Stat(library)
		if err != nil {
			return "", fmt.Errorf("custom loader %s: library_path %s: %w", name, library, err)
		}
		if !st.IsDir() {
			if !exe(library) {
				return "", fmt.Errorf("custom loader %s: library_path %s is not an executable file", name, library)
			}
			return library, nil
		}
		if p := filepath.Join(library, loaderhost.BinaryPrefix+name); exe(p) {
			return p, nil
		}
		matches, _ := filepath.Glob(filepath.Join(library, loaderhost.BinaryPrefix+"*"))
		var found []string
		for _, m := range matches {
			if exe(m) {
				found = append(found, m)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		return "", fmt.Errorf("custom loader %s: library_path %s holds no %s%s and not exactly one %s* executable", name, library, loaderhost.BinaryPrefix, name, loaderhost.BinaryPrefix)
	}
	var tried []string
	for _, dir := range dirs {
		for _, n := range []string{loaderhost.BinaryPrefix + strings.TrimPrefix(library, loaderhost.BinaryPrefix), library} {
			p := filepath.Join(dir, n)
			if exe(p) {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	return "", fmt.Errorf("custom loader %s: %s not found (looked for %s; set library_path to its path, or install it with `ovms plugin install`)", name, library, strings.Join(tried, ", "))
}

// Start launches one loader binary, completes the handshake and returns
// its client and name/version (for `ovms plugin list` and tests); kill
// stops it.
func Start(path string, log *logrus.Entry) (c *loaderhost.Client, pc *plugin.Client, pid int, err error) {
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), plugins.EnvLogLevel+"="+logging.LevelName())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	sum, err := pluginhost.ExpectedChecksum(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("refusing the loader plugin: %w", err)
	}
	var secure *plugin.SecureConfig
	if sum != nil {
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	pc = plugin.NewClient(&plugin.ClientConfig{
		SecureConfig:     secure,
		HandshakeConfig:  loaderhost.Handshake,
		Plugins:          plugin.PluginSet{loaderhost.PluginName: &loaderhost.Plugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logging.NewHCLog(log),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(loaderhost.MaxMessage), grpc.MaxCallSendMsgSize(loaderhost.MaxMessage))},
	})
	rpc, err := pc.Client()
	if err != nil {
		pc.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, nil, 0, fmt.Errorf("refusing the loader plugin %s: its sha256 does not match %s", path, filepath.Join(filepath.Dir(path), pluginhost.ManifestFile))
		}
		return nil, nil, 0, fmt.Errorf("starting loader plugin %s: %w", path, err)
	}
	raw, err := rpc.Dispense(loaderhost.PluginName)
	if err != nil {
		pc.Kill()
		return nil, nil, 0, fmt.Errorf("connecting to loader plugin %s: %w", path, err)
	}
	if rc := pc.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	return raw.(*loaderhost.Client), pc, pid, nil
}

// Restart backoff of a loader process that ended.
const (
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 5 * time.Second
	exitPoll     = 20 * time.Millisecond
	initTimeout  = 30 * time.Second
)
