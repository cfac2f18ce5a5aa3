package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins/host/loaderhost"
	"github.com/ovmsgo/ovms/plugins/pluginlog"
	loaderv1 "github.com/ovmsgo/ovms/proto/ovms/plugin/loader/v1"
)

// Version is reported by Info; a loader's build may set it with
// -ldflags "-X github.com/ovmsgo/ovms/plugins/loader.Version=...".
var Version = "dev"

// Serve runs a loader plugin process: it serves the loader that factory
// builds when ovms initializes it, until ovms stops the process or exits.
// name is the loader's name in log lines and `ovms plugin list`; by
// convention the binary is ovms-loader-<name>. It never returns.
func Serve(name string, factory Factory) {
	log := pluginlog.NewLogger(name)
	if os.Getenv(loaderhost.Handshake.MagicCookieKey) != loaderhost.Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s is an ovms loader plugin: it is started by ovms, not by hand\n", os.Args[0])
		os.Exit(1)
	}
	go exitWithParent(log)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: loaderhost.Handshake,
		Plugins:         plugin.PluginSet{loaderhost.PluginName: &loaderhost.Plugin{Register: Register(name, factory, log)}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(loaderhost.MaxMessage), grpc.MaxSendMsgSize(loaderhost.MaxMessage))
			return grpc.NewServer(opts...)
		},
	})
	os.Exit(0)
}

// Register returns a function that registers the loader service for
// factory on a gRPC server: what Serve runs, and what loadertest serves
// in process.
func Register(name string, factory Factory, log *logrus.Entry) func(*grpc.Server) {
	return func(s *grpc.Server) {
		loaderv1.RegisterLoaderServer(s, &server{name: name, factory: factory, log: log})
	}
}

// exitWithParent ends the plugin when ovms is gone.
func exitWithParent(log *logrus.Entry) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			log.Warn("host process is gone, exiting")
			os.Exit(1)
		}
	}
}

// server adapts a Loader to the gRPC service.
type server struct {
	loaderv1.UnimplementedLoaderServer
	name    string
	factory Factory
	log     *logrus.Entry

	mu   sync.RWMutex // held for reading by each call on impl while it runs
	impl Loader
}

// loader returns the initialized loader, held (Init and Close wait) until
// done is called.
func (s *server) loader() (l Loader, done func(), err error) {
	s.mu.RLock()
	if s.impl == nil {
		s.mu.RUnlock()
		return nil, nil, status.Error(codes.FailedPrecondition, "the loader is not initialized")
	}
	return s.impl, s.mu.RUnlock, nil
}

func (s *server) Info(context.Context, *loaderv1.InfoRequest) (*loaderv1.InfoResponse, error) {
	return &loaderv1.InfoResponse{Name: s.name, Version: Version}, nil
}

func (s *server) Init(_ context.Context, req *loaderv1.InitRequest) (*loaderv1.InitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.impl != nil {
		_ = s.impl.Close()
		s.impl = nil
	}
	impl, err := s.factory(req.GetConfigFile(), s.log)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "loader %s: initialization with %q failed: %v", s.name, req.GetConfigFile(), err)
	}
	s.impl = impl
	return &loaderv1.InitResponse{}, nil
}

func (s *server) Load(ctx context.Context, req *loaderv1.LoadRequest) (*loaderv1.LoadResponse, error) {
	l, done, err := s.loader()
	if err != nil {
		return nil, err
	}
	defer done()
	opts, err := parseOptions(req.GetOptionsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	files, err := l.Load(ctx, &Request{Model: Model{Name: req.GetName(), BasePath: req.GetBasePath(), Options: opts}, Version: req.GetVersion(), Path: req.GetPath()})
	if err != nil {
		return nil, toStatus(err)
	}
	if len(files) == 0 {
		return nil, status.Errorf(codes.Internal, "loader %s returned no model file for model %s version %d", s.name, req.GetName(), req.GetVersion())
	}
	out := &loaderv1.LoadResponse{Files: make([]*loaderv1.ModelFile, len(files))}
	size := 0
	for i, f := range files {
		out.Files[i] = &loaderv1.ModelFile{Name: f.Name, Data: f.Data}
		size += len(f.Data)
	}
	s.log.WithFields(logrus.Fields{"model": req.GetName(), "version": req.GetVersion(), "files": len(files), "bytes": size}).Info("model files loaded")
	return out, nil
}

func (s *server) Retired(ctx context.Context, req *loaderv1.RetiredRequest) (*loaderv1.RetiredResponse, error) {
	l, done, err := s.loader()
	if err != nil {
		return nil, err
	}
	defer done()
	opts, err := parseOptions(req.GetOptionsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	vs, err := l.Retired(ctx, &Model{Name: req.GetName(), BasePath: req.GetBasePath(), Options: opts}, req.GetVersions())
	if err != nil {
		return nil, toStatus(err)
	}
	return &loaderv1.RetiredResponse{Versions: vs}, nil
}

func (s *server) Unload(ctx context.Context, req *loaderv1.UnloadRequest) (*loaderv1.UnloadResponse, error) {
	l, done, err := s.loader()
	if err != nil {
		return nil, err
	}
	defer done()
	if err := l.Unload(ctx, req.GetName(), req.GetVersion()); err != nil {
		return nil, toStatus(err)
	}
	return &loaderv1.UnloadResponse{}, nil
}

func (s *server) Close(context.Context, *loaderv1.CloseRequest) (*loaderv1.CloseResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.impl == nil {
		return &loaderv1.CloseResponse{}, nil
	}
	err := s.impl.Close()
	s.impl = nil
	if err != nil {
		return nil, toStatus(err)
	}
	return &loaderv1.CloseResponse{}, nil
}

func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}
