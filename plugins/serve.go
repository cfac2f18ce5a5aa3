package plugins

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ovmsgo/ovms/internal/gcfloor"
	"github.com/ovmsgo/ovms/internal/profiling"
	"github.com/ovmsgo/ovms/plugins/device"
	"github.com/ovmsgo/ovms/plugins/host"
	"github.com/ovmsgo/ovms/plugins/host/dataplane"
	"github.com/ovmsgo/ovms/plugins/shm"
	"github.com/ovmsgo/ovms/plugins/shm/faultguard"
)

// MaxControlMessage is the gRPC message limit on the control channel. Tensor
// bytes travel through the arena; this only bounds metadata and model bytes
// handed over by custom loaders.
const MaxControlMessage = 1 << 30

// ServeDevice runs a device plugin process: it maps the arena inherited from
// the host, builds the device with factory and serves it until the host
// stops it or exits. It never returns.
//
// name is the plugin's name in its log lines (the "plugin" field the host
// re-emits); by convention it is the family of the binary's file name.
// ServeDevice does not decide which models reach the plugin: the host
// does, by file name. A model's target_device is lowercased and cut at the
// first '.', ':' or '(' to give its family ("NEGATE" -> "negate", "GPU.1"
// -> "gpu"; OVMS's "NVIDIA" -> "cuda"), and the family's plugin is the
// executable ovms-device-<family>, looked for in --plugin_dir and then in
// the folder of the ovms executable. Info.Devices only describes the
// plugin to `ovms plugin list` and `inspect`.
func ServeDevice(name string, factory device.Factory) {
	log := NewLogger(name)
	if os.Getenv(host.Handshake.MagicCookieKey) != host.Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s is an ovms device plugin: it is started by ovms, not by hand\n", os.Args[0])
		os.Exit(1)
	}
	profiling.Start(name, func(f string, a ...any) { log.Warnf(f, a...) })
	gcfloor.StartLogged(log)
	arena, err := host.OpenArenaFromEnv()
	if err != nil {
		log.WithError(err).Error("cannot map the shared-memory arena")
		os.Exit(1)
	}
	channel, err := dataplane.OpenChannelFromEnv()
	if err != nil {
		log.WithError(err).Error("cannot map the data-plane channel")
		os.Exit(1)
	}
	var ep *dataplane.Endpoint
	if channel != nil {
		ep = channel.Plugin()
		if d, err := time.ParseDuration(os.Getenv("OVMS_CHANNEL_SPIN")); err == nil {
			ep.Spin = d
		}
		ep.Yield = dataplane.YieldFromEnv()
	}
	regions := shm.NewRegionTable()
	par, _ := strconv.Atoi(os.Getenv(device.EnvLoadParallelism))
	dev, err := factory(&device.Env{Arena: arena, Logger: log, Regions: regions, LoadParallelism: max(0, par)})
	if err != nil {
		log.WithError(err).Error("cannot start the device")
		os.Exit(1)
	}
	// A client may truncate a region's object while the engine reads it
	// in place: absorb the SIGBUS and fail that request, not the process.
	// Installed after the device started its engine, so that the guard
	// chains to any handler the engine's libraries put in place.
	if g, err := faultguard.Install(); err != nil {
		log.WithError(err).Warn("client shared-memory regions are not guarded against truncation")
	} else {
		regions.Guard = g
	}
	go exitWithParent(log)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: host.Handshake,
		Plugins:         plugin.PluginSet{host.PluginName: &host.Plugin{Impl: dev, Arena: arena, Logger: log, Channel: ep, Regions: regions}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxControlMessage), grpc.MaxSendMsgSize(MaxControlMessage))
			return grpc.NewServer(opts...)
		},
	})
	os.Exit(0)
}

// exitWithParent ends the plugin when the host is gone, even if the host was
// killed without a chance to stop it (the host also sets a parent-death
// signal; this is the second line of defence).
func exitWithParent(log interface{ Warn(...any) }) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			log.Warn("host process is gone, exiting")
			os.Exit(1)
		}
	}
}
