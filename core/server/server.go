// Package server is the composition root of ovms: it builds the plugin
// host, the model manager and the gRPC and REST front ends from the
// configuration, serves until the context ends, and shuts down in order
// (stop accepting, finish requests, unload models, stop plugins).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	grpcapi "github.com/ovmsgo/ovms/core/api/grpc"
	"github.com/ovmsgo/ovms/core/api/grpc/kserve"
	"github.com/ovmsgo/ovms/core/api/grpc/rawcodec"
	"github.com/ovmsgo/ovms/core/api/grpc/rpcctx"
	"github.com/ovmsgo/ovms/core/api/grpc/tfs"
	"github.com/ovmsgo/ovms/core/api/rest"
	"github.com/ovmsgo/ovms/core/clientshm"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/customloader"
	"github.com/ovmsgo/ovms/core/imagein"
	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/core/metrics"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/pipeline"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/security"
	"github.com/ovmsgo/ovms/core/tracing"
	"github.com/ovmsgo/ovms/plugins/device"
)

// shutdownGrace bounds how long in-flight requests may take at shutdown.
const shutdownGrace = 30 * time.Second

// tracingFlushTimeout bounds the export of the last spans at shutdown.
const tracingFlushTimeout = 5 * time.Second

// ErrStartup marks failures that stop the server from starting.
var ErrStartup = errors.New("server failed to start")

// Run serves cfg until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg config.Server, version string) error {
	log := logging.Component("server")
	var env []string
	if cfg.CPUExtension != "" {
		abs, err := filepath.Abs(cfg.CPUExtension)
		if err != nil {
			abs = cfg.CPUExtension
		}
		env = append(env, device.EnvCPUExtension+"="+abs)
	}
	// The plugins compile as many versions at once as the load
	// parallelism; the manager keeps more loads in flight (LoadsInFlight).
	par := cfg.ModelLoadParallelism
	if par <= 0 {
		par = modelmanager.DefaultLoadParallelism()
	}
	env = append(env, device.EnvLoadParallelism+"="+strconv.Itoa(par))
	host := pluginhost.New(pluginhost.Config{Dirs: PluginDirs(cfg.PluginDir), ArenaBytes: uint64(cfg.ArenaMB) << 20, Env: env})
	// Large gRPC answers are sent from the arena; a quarter of one arena may
	// be on loan to the transport (slow readers hold theirs).
	rawcodec.SetLendBudget(int64(cfg.ArenaMB) << 20 / 4)
	defer host.Close()
	isolation, err := pluginhost.ParseIsolation(cfg.PluginIsolation)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStartup, err)
	}
	// First of all: the plugins' start (process, engine library, engine
	// warm-up) is the longest step before the first load, and the rest of
	// the setup (metrics, tracing, the servers) overlaps it.
	prestart(ctx, cfg, host, isolation, logging.Component("plugin_host"))
	models := modelmanager.New(host, logging.Component("model_manager"))
	models.SetCacheDir(filepath.Join(os.TempDir(), fmt.Sprintf("ovms-models-%d", os.Getpid())))
	loaders := customloader.New(PluginDirs(cfg.PluginDir), logging.Component("custom_loader"))
	defer loaders.Close() // after the models' unloads (deferred later)
	models.SetLoaders(loaders)
	// config.json is read and checked once here, for its monitoring
	// section, and its models are applied from the same reading (a
	// change after it is picked up by the reloader's watch).
	var file *config.File
	if cfg.ConfigPath != "" {
		file, _ = config.LoadFile(cfg.ConfigPath) // an error is reported by the reloader's start, which reads it again
	}
	met, err := startMetrics(cfg, file, host)
	if err != nil {
		return err
	}
	defer met.Close()
	models.SetMetrics(met)
	tr, err := tracing.Start(ctx, version, logging.Component("tracing"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStartup, err)
	}
	// Deferred before the servers stop (below), so it runs after them: the
	// spans of the requests drained at shutdown are flushed too.
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := tr.Shutdown(fctx); err != nil {
			log.WithError(err).Warn("tracing: spans not flushed at shutdown")
		}
	}()
	host.SetRestartHandler(func(family string, inst *pluginhost.Instance) {
		met.PluginRestarted(inst.Key.String())
		models.Recover(family, inst)
	})
	host.SetExitHandler(models.PluginExited)
	models.SetNireqTimeout(time.Duration(cfg.NireqTimeoutMs) * time.Millisecond)
	models.SetLoadTimeout(time.Duration(cfg.ModelLoadTimeoutSeconds) * time.Second)
	models.SetLoadParallelism(cfg.ModelLoadParallelism)
	models.SetSequenceCleaner(sequenceCleaner(cfg.SequenceCleanerPollWaitMinutes, log))
	models.SetPluginIsolation(isolation)
	// Decoding a request's binary images counts against the same per-request
	// bound as its other decoded data (0: no bound).
	if n := cfg.Limits.MaxRequestBytes(); n > 0 {
		imagein.SetMaxBytes(n)
	} else {
		imagein.SetMaxBytes(math.MaxInt64)
	}
	var shm *clientshm.Registry
	if cfg.AllowClientShm {
		shm = clientshm.NewRegistry(cfg.ClientShmUIDs...)
		defer func() { _ = shm.Unregister("") }()
	}

	sec, err := security.Load(security.Config{TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey, TLSClientCA: cfg.TLSClientCA,
		APIKeyFile: cfg.APIKeyFile, ControlAPIKeyFile: cfg.ControlAPIKeyFile})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStartup, err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go sec.Watch(watchCtx, logging.Component("security"))

	// Pipelines are served through the model manager as graphs; their
	// custom nodes run in the custom node libraries' processes.
	rel := newReloader(cfg, models, logging.Component("config"))
	rel.first = file
	rel.met = met
	rel.nodes = newNodeHost(cfg, env)
	defer rel.nodes.Close()
	pipes := pipeline.New(models, nodeOpener{rel.nodes}, logging.Component("pipeline"))
	defer pipes.Close()
	rel.pipes = pipes
	// Both ports are bound before either server starts, so that a port in
	// use fails the start with one error and no server ever ran.
	grpcLn, restLn, err := listen(cfg)
	if err != nil {
		return err
	}
	grpcSrv, healthSrv := startGRPC(cfg, grpcLn, models, version, shm, sec, log)
	httpSrv := startREST(cfg, restLn, models, version, shm, rel, sec, met, log)

	if err := rel.start(ctx); err != nil {
		log.WithError(err).Error("model loading failed")
		stop(grpcSrv, httpSrv, models, log)
		return fmt.Errorf("%w: %w", ErrStartup, err)
	}
	go rel.watch(ctx, time.Duration(cfg.FileSystemPollWaitSeconds)*time.Second)
	if healthSrv != nil {
		healthSrv.Resume() // every service SERVING, as ServerReady turns true
	}
	log.WithFields(logrus.Fields{"grpc_port": cfg.Port, "rest_port": cfg.RestPort, "version": version}).Info("server ready")
	<-ctx.Done()
	log.Info("shutting down")
	if healthSrv != nil {
		healthSrv.Shutdown() // NOT_SERVING while requests drain
	}
	stop(grpcSrv, httpSrv, models, log)
	return nil
}

func stop(g *grpc.Server, h *http.Server, models *modelmanager.Manager, log *logrus.Entry) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if h != nil {
		if err := h.Shutdown(ctx); err != nil {
			log.WithError(err).Warn("rest server did not stop cleanly")
		}
	}
	if g != nil {
		done := make(chan struct{})
		go func() { g.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			g.Stop()
		}
	}
	models.Close(ctx)
}

// PluginDirs is where device plugins are looked up: --plugin_dir, then the
// directory of the ovms executable.
func PluginDirs(flagDir string) []string {
	var dirs []string
	if flagDir != "" {
		dirs = append(dirs, flagDir)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	return dirs
}

// healthServices are the names the standard health service answers for
// besides "" (the whole server).
var healthServices = []string{"inference.GRPCInferenceService", "tensorflow.serving.PredictionService", "tensorflow.serving.ModelService"}

// listen binds the gRPC and REST ports that cfg enables (nil listeners
// for disabled ones). An address that cannot be bound gives an ErrStartup
// error naming the flag, the address and the cause, with nothing left
// open.
func listen(cfg config.Server) (grpcLn, restLn net.Listener, err error) {
	if cfg.Port != 0 {
		if grpcLn, err = listenOn("--port", cfg.GRPCBindAddress, cfg.Port); err != nil {
			return nil, nil, err
		}
	}
	if cfg.RestPort != 0 {
		if restLn, err = listenOn("--rest_port", cfg.RestBindAddress, cfg.RestPort); err != nil {
			if grpcLn != nil {
				_ = grpcLn.Close()
			}
			return nil, nil, err
		}
	}
	return grpcLn, restLn, nil
}

// listenOn binds host:port for the server of flag.
func listenOn(flag, host string, port int) (net.Listener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// "listen tcp ADDR: bind: address already in use" -> the errno.
		cause := err
		var op *net.OpError
		if errors.As(err, &op) {
			cause = op.Err
		}
		var sc *os.SyscallError
		if errors.As(cause, &sc) {
			cause = sc.Err
		}
		return nil, fmt.Errorf("%w: %s %d: cannot listen on %s: %w", ErrStartup, flag, port, addr, cause)
	}
	return ln, nil
}

// startGRPC serves the TFS and KServe services plus the standard health
// service (NOT_SERVING until the models are loaded) and server reflection
// on ln (nil: gRPC is disabled).
func startGRPC(cfg config.Server, ln net.Listener, models *modelmanager.Manager, version string, shm *clientshm.Registry, sec *security.Security, log *logrus.Entry) (*grpc.Server, *health.Server) {
	if ln == nil {
		return nil, nil
	}
	opts := grpcOptions(cfg.GRPC)
	if sec.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(sec.TLS.ServerConfig("h2"))))
	}
	opts = append(opts, sec.Auth.GRPCOptions()...)
	s := grpc.NewServer(opts...)
	tfs.Register(s, models, cfg.Limits.MaxRequestBytes())
	kserve.Register(s, models, version, shm, cfg.Limits.MaxRequestBytes())
	hs := health.NewServer()
	for _, name := range append([]string{""}, healthServices...) {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	if len(cfg.GRPC.Ignored) > 0 {
		log.WithField("arguments", cfg.GRPC.Ignored).Warn("grpc_channel_arguments without effect in this server ignored")
	}
	go func() {
		// Stop before Serve began gives ErrServerStopped: not a failure.
		if err := s.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			log.WithError(err).Error("grpc server stopped")
		}
	}()
	log.WithFields(logrus.Fields{"address": net.JoinHostPort(cfg.GRPCBindAddress, strconv.Itoa(cfg.Port)), "settings": cfg.GRPC.String()}).
		WithFields(securityFields(sec)).Info("started grpc server")
	return s, hs
}

// securityFields describe the transport security of a port for its log.
func securityFields(sec *security.Security) logrus.Fields {
	tlsMode := "off"
	if sec.TLS != nil {
		tlsMode = "on"
		if sec.TLS.MutualTLS() {
			tlsMode = "mutual"
		}
	}
	return logrus.Fields{"tls": tlsMode, "api_keys": sec.Auth != nil}
}

// recvPool holds the buffers the gRPC servers receive frames into
// (rawcodec.Pool: not cleared between uses).
var recvPool = rawcodec.NewPool()

// grpcOptions turns the --grpc_channel_arguments settings into options.
func grpcOptions(a config.GRPCArgs) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(a.MaxRecvBytes),
		grpc.MaxSendMsgSize(a.MaxSendBytes),
		grpc.StatsHandler(rpcctx.StatsHandler{LastRequest: rawcodec.FreeUntaken}),
		grpc.ForceServerCodecV2(rawcodec.New()),
		experimental.BufferPool(recvPool),
	}
	opts = append(opts, grpcapi.FlowControl()...)
	if a.MaxConcurrentStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(a.MaxConcurrentStreams))
	}
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	kp := keepalive.ServerParameters{
		MaxConnectionIdle: ms(a.MaxConnectionIdleMs), MaxConnectionAge: ms(a.MaxConnectionAgeMs),
		MaxConnectionAgeGrace: ms(a.MaxConnectionAgeGraceMs), Time: ms(a.KeepaliveTimeMs), Timeout: ms(a.KeepaliveTimeoutMs),
	}
	if kp != (keepalive.ServerParameters{}) {
		opts = append(opts, grpc.KeepaliveParams(kp))
	}
	if a.KeepaliveMinTimeMs > 0 || a.PermitWithoutCalls != nil {
		ep := keepalive.EnforcementPolicy{MinTime: ms(a.KeepaliveMinTimeMs), PermitWithoutStream: a.PermitWithoutCalls != nil && *a.PermitWithoutCalls}
		if ep.MinTime == 0 {
			ep.MinTime = 5 * time.Minute // gRPC's default
		}
		opts = append(opts, grpc.KeepaliveEnforcementPolicy(ep))
	}
	return opts
}

// startREST serves the REST API on ln (nil: REST is disabled).
func startREST(cfg config.Server, ln net.Listener, models *modelmanager.Manager, version string, shm *clientshm.Registry, rel rest.ConfigReloader, sec *security.Security, met *metrics.Registry, log *logrus.Entry) *http.Server {
	if ln == nil {
		return nil
	}
	if sec.TLS != nil {
		// HTTP/1.1 only, as over plain TCP (OVMS's REST server has no
		// HTTP/2), so the per-request read deadlines work the same.
		ln = tls.NewListener(ln, sec.TLS.ServerConfig("http/1.1"))
	}
	api := rest.New(models, version, logging.Component("rest"))
	api.RequireAPIKeys(sec.Auth)
	if shm != nil {
		api.EnableClientShm(shm)
	}
	api.EnableConfig(rel)
	if met != nil {
		api.HandleMetrics(met.Handler())
	}
	lim := cfg.Limits
	api.SetLimits(rest.Limits{MaxRequestBytes: lim.MaxRequestBytes(), ReadTimeout: lim.ReadTimeout(), BodyMinRate: int64(lim.RestBodyMinRateKiB) << 10})
	// The body deadline is set per request (rest.Limits); headers get the
	// read timeout, idle keep-alive connections the idle timeout.
	s := &http.Server{Handler: api, ReadHeaderTimeout: lim.ReadTimeout(), IdleTimeout: lim.IdleTimeout()}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("rest server stopped")
		}
	}()
	log.WithFields(logrus.Fields{"address": ln.Addr().String(), "read_timeout": lim.ReadTimeout().String(), "body_min_rate_kib": lim.RestBodyMinRateKiB,
		"idle_timeout": lim.IdleTimeout().String(), "max_request_memory_mb": lim.MaxRequestMemoryMB}).WithFields(securityFields(sec)).Info("started rest server")
	return s
}

// EnvSequenceCleaner, when set to a Go duration ("2s"), replaces
// --sequence_cleaner_poll_wait_minutes: tests of the sequence cleaner
// cannot wait minutes.
const EnvSequenceCleaner = "OVMS_SEQUENCE_CLEANER_POLL_WAIT"

// sequenceCleaner is the sequence cleaner's interval.
func sequenceCleaner(minutes int, log *logrus.Entry) time.Duration {
	if s := os.Getenv(EnvSequenceCleaner); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			log.WithField("interval", d).Warn("sequence cleaner interval set by " + EnvSequenceCleaner)
			return d
		}
		log.WithField("value", s).Warn(EnvSequenceCleaner + " is not a duration; ignored")
	}
	return time.Duration(max(minutes, 0)) * time.Minute
}
