package pluginhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/plugins"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/host/dataplane"
	"github.com/ovmsgo/ovms/plugins/shm"
)

// Instance is one running device plugin process.
type Instance struct {
	// Family is the device family, e.g. "cpu".
	Family string
	// Key names the process among the host's: the family, and the model
	// it serves alone under --plugin_isolation model.
	Key Key
	// Path is the plugin executable.
	Path string
	// Device is the control client.
	Device *host.Client
	// Arena is the shared-memory arena shared with the process.
	Arena *shm.Arena
	// Info is what the plugin reported about itself at start.
	Info *device.Info

	channel *dataplane.Channel
	pc      *plugin.Client
	pid     int
	started time.Time
	done    chan struct{} // closed when the process has ended
	socket  string        // the plugin's unix socket file
	tmpDir  string        // the plugin's own TMPDIR, removed when it ends
	onExit  func(*Instance)

	suspects    chan struct{} // see Quarantine
	releaseOnce sync.Once
	// holds and gone guard the arena: see Hold.
	holds      atomic.Int64
	gone       atomic.Bool
	arenaFreed atomic.Bool
	// leased counts the bytes of outputs the core holds (LeaseOutputs).
	leased atomic.Int64
}

// EnvDataPlane set to "grpc" makes requests travel as gRPC calls instead of
// through the shared-memory channel (for comparisons and debugging).
const EnvDataPlane = "OVMS_DATAPLANE"

// EnvSpin overrides how long the plugin polls for requests after its last
// answer before sleeping (a Go duration, e.g. "20us"; default
// dataplane.DefaultSpin). The core's own polling for results follows the
// round trips (plugins/host/channel.go) and does not read it.
const EnvSpin = "OVMS_CHANNEL_SPIN"

// channelSlots is the number of requests (and results) the data-plane
// rings hold at once; senders wait when a ring is full.
const channelSlots = 1024

// exitPoll is how often a plugin process is checked for having ended.
const exitPoll = 20 * time.Millisecond

// watch fails the requests in flight when the plugin process ends,
// releases what the process had (its gRPC connection and socket folder,
// the channel's mapping and descriptors; the arena follows after a grace
// period, see Host.supervise), then closes done.
func (i *Instance) watch() {
	for !i.pc.Exited() {
		time.Sleep(exitPoll)
	}
	if i.onExit != nil {
		i.onExit(i) // before anything can see the requests fail
	}
	i.Device.Close()
	i.release()
	i.retire()
	close(i.done)
}

// release gives back the process's connection, socket folder, temporary
// folder and channel (once, whoever calls it first).
func (i *Instance) release() {
	i.releaseOnce.Do(func() {
		if i.pc != nil {
			i.pc.Kill() // on an ended process: closes the connection, removes the socket folder
		}
		if i.channel != nil {
			_ = i.channel.Close()
		}
		// A killed plugin leaves its socket file behind (it removes it
		// itself only when it exits cleanly).
		if st, err := os.Lstat(i.socket); i.socket != "" && err == nil && st.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(i.socket)
		}
		if i.tmpDir != "" {
			_ = os.RemoveAll(i.tmpDir)
		}
	})
}

// Done is closed when the plugin process has ended (never for attached
// instances).
func (i *Instance) Done() <-chan struct{} { return i.done }

// killProcess ends the process at once (a hung plugin), leaving the
// cleanup to watch and the host.
func (i *Instance) killProcess() {
	if i.pid > 0 {
		_ = syscall.Kill(i.pid, syscall.SIGKILL)
	}
}

// spec is what start needs to launch one plugin process.
type spec struct {
	key        Key
	path       string
	arenaBytes uint64
	env        []string
	log        *logrus.Entry
	onExit     func(*Instance)
}

// start launches a plugin binary and completes the handshake.
func start(ctx context.Context, sp spec) (*Instance, error) {
	family, path, env, log := sp.key.Family, sp.path, sp.env, sp.log
	arena, err := host.CreateArena("ovms-"+family, sp.arenaBytes, 0.5)
	if err != nil {
		return nil, fmt.Errorf("starting %s plugin: %w", family, err)
	}
	channel, err := dataplane.CreateChannel(channelSlots)
	if err != nil {
		arena.Close()
		return nil, fmt.Errorf("starting %s plugin: %w", family, err)
	}
	// Each process gets a temporary folder of its own (its TMPDIR, inside
	// the core's), removed with everything in it when the process ends:
	// what libraries write there (ONNX Runtime 1.30 writes files at start,
	// which a plugin killed at that moment cannot remove).
	tmpDir, err := os.MkdirTemp("", "ovms-"+family+"-")
	if err != nil {
		arena.Close()
		_ = channel.Close()
		return nil, fmt.Errorf("starting %s plugin: %w", family, err)
	}
	cmd := exec.Command(path)
	cmd.ExtraFiles = append([]*os.File{arena.File()}, channel.Files()...)
	cmd.Env = append(WithMallocTunables(os.Environ()),
		host.EnvLayout+"="+arena.Layout().String(),
		dataplane.EnvChannel+"="+channel.Env(),
		plugins.EnvLogLevel+"="+logging.LevelName(),
	)
	cmd.Env = append(cmd.Env, env...)
	// Its socket stays in the core's temporary folder (a unix socket path
	// is limited to 108 bytes; the folder of its own would lengthen it).
	cmd.Env = append(cmd.Env, "TMPDIR="+tmpDir, "PLUGIN_UNIX_SOCKET_DIR="+os.TempDir())
	// The plugin dies with the core even when the core is killed, and
	// terminal signals meant for the core do not reach it directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	plog := log.WithFields(logrus.Fields{"plugin": sp.key.String()})
	sum, err := expectedChecksum(path)
	if err != nil {
		arena.Close()
		_ = channel.Close()
		_ = os.RemoveAll(tmpDir)
		return nil, fmt.Errorf("refusing the %s plugin: %w", family, err)
	}
	var secure *plugin.SecureConfig
	if sum != nil {
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	pc := plugin.NewClient(&plugin.ClientConfig{
		SecureConfig:     secure,
		HandshakeConfig:  host.Handshake,
		Plugins:          plugin.PluginSet{host.PluginName: &host.Plugin{Arena: arena}},
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env has the host's environment already, with this process's TMPDIR last
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logging.NewHCLog(plog),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(plugins.MaxControlMessage), grpc.MaxCallSendMsgSize(plugins.MaxControlMessage))},
	})
	inst := &Instance{Family: family, Key: sp.key, Path: path, Arena: arena, channel: channel, pc: pc, started: time.Now(),
		done: make(chan struct{}), onExit: sp.onExit, suspects: newSuspects(), tmpDir: tmpDir}
	rpc, err := pc.Client()
	if err != nil {
		inst.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("refusing the %s plugin %s: its sha256 does not match %s", family, path, filepath.Join(filepath.Dir(path), ManifestFile))
		}
		return nil, fmt.Errorf("starting %s plugin %s: %w", family, path, err)
	}
	raw, err := rpc.Dispense(host.PluginName)
	if err != nil {
		inst.Kill()
		return nil, fmt.Errorf("connecting to %s plugin: %w", family, err)
	}
	inst.Device = raw.(*host.Client)
	if os.Getenv(EnvDataPlane) != "grpc" {
		ep := channel.Host()
		if v := os.Getenv(EnvSpin); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				ep.Spin = d
			}
		}
		inst.Device.AttachChannel(ep, arena)
	}
	if rc := pc.ReattachConfig(); rc != nil {
		inst.pid = rc.Pid
		if rc.Addr != nil && rc.Addr.Network() == "unix" {
			inst.socket = rc.Addr.String()
		}
	}
	go inst.watch()
	info, err := inst.Device.Info(ctx)
	if err != nil {
		inst.Kill()
		return nil, fmt.Errorf("asking %s plugin for its info: %w", family, err)
	}
	inst.Info = info
	plog.WithFields(logrus.Fields{"pid": inst.pid, "path": path, "engine": info.Engine, "devices": info.Devices}).Info("device plugin started")
	return inst, nil
}

// Pid is the plugin's process id.
func (i *Instance) Pid() int { return i.pid }

// Exited reports whether the plugin process has ended.
func (i *Instance) Exited() bool { return i.pc != nil && i.pc.Exited() }

// Kill stops the process (gracefully first), releases its connection and
// channel, and unmaps the arena once nothing holds it.
func (i *Instance) Kill() {
	i.release()
	if i.Device != nil {
		i.Device.Close()
	}
	i.retire()
}
