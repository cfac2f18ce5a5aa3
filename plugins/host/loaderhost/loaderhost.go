// Package loaderhost is the ovms core's side of the custom loader plugin
// protocol (proto/ovms/plugin/loader/v1): the go-plugin Handshake and the
// Client the core calls a loader process through. Loader authors never
// import it: they implement loader.Loader and call loader.Serve.
package loaderhost

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	loaderv1 "github.com/ovmsgo/ovms/proto/ovms/plugin/loader/v1"
)

// PluginName is the key of the loader in go-plugin's plugin set.
const PluginName = "loader"

// BinaryPrefix is the file name prefix of loader plugin executables.
const BinaryPrefix = "ovms-loader-"

// MaxMessage is the gRPC message limit both sides set: a Load answer
// carries a model's files.
const MaxMessage = 1 << 30

// Handshake is checked by both sides before anything else; a binary that
// is not an ovms loader plugin exits with a clear message instead.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "OVMS_LOADER_PLUGIN",
	MagicCookieValue: "7c0a4e1d-ovms-loader",
}

// Plugin is go-plugin's view of a loader on the host side: it only makes
// clients. (The plugin side registers its server itself.)
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Register, in a plugin process, registers the loader service.
	Register func(*grpc.Server)
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the loader service (plugin side).
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Register == nil {
		return fmt.Errorf("loader plugin has no server")
	}
	p.Register(s)
	return nil
}

// GRPCClient returns a *Client (host side).
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &Client{rpc: loaderv1.NewLoaderClient(c)}, nil
}

// Client calls one loader process.
type Client struct{ rpc loaderv1.LoaderClient }

// NewClient wraps a gRPC client (tests, contract kits).
func NewClient(rpc loaderv1.LoaderClient) *Client { return &Client{rpc: rpc} }

// File is one model file a loader returned.
type File struct {
	// Name is the file's base name.
	Name string
	// Data is its contents.
	Data []byte
}

// Request asks for one version's files (Retired uses only the model's
// fields).
type Request struct {
	// Name and BasePath are the model's name and base_path; Path is the
	// version's local folder.
	Name, BasePath, Path string
	// Version is the version number.
	Version int64
	// OptionsJSON is the model's custom_loader_options object.
	OptionsJSON string
}

// Info is the plugin's name and version.
func (c *Client) Info(ctx context.Context) (name, version string, err error) {
	r, err := c.rpc.Info(ctx, &loaderv1.InfoRequest{})
	if err != nil {
		return "", "", plain(err)
	}
	return r.GetName(), r.GetVersion(), nil
}

// Init starts the loader with its configuration file.
func (c *Client) Init(ctx context.Context, configFile string) error {
	_, err := c.rpc.Init(ctx, &loaderv1.InitRequest{ConfigFile: configFile})
	return plain(err)
}

// Load asks for a version's model files.
func (c *Client) Load(ctx context.Context, req Request) ([]File, error) {
	r, err := c.rpc.Load(ctx, &loaderv1.LoadRequest{Name: req.Name, BasePath: req.BasePath, Version: req.Version, Path: req.Path, OptionsJson: req.OptionsJSON})
	if err != nil {
		return nil, plain(err)
	}
	out := make([]File, len(r.GetFiles()))
	for i, f := range r.GetFiles() {
		out[i] = File{Name: f.GetName(), Data: f.GetData()}
	}
	return out, nil
}

// Retired asks which of a model's versions must not be served (req's
// Version and Path are not used).
func (c *Client) Retired(ctx context.Context, req Request, versions []int64) ([]int64, error) {
	r, err := c.rpc.Retired(ctx, &loaderv1.RetiredRequest{Name: req.Name, Versions: versions, BasePath: req.BasePath, OptionsJson: req.OptionsJSON})
	if err != nil {
		return nil, plain(err)
	}
	return r.GetVersions(), nil
}

// Unload tells the loader a version is no longer served.
func (c *Client) Unload(ctx context.Context, name string, version int64) error {
	_, err := c.rpc.Unload(ctx, &loaderv1.UnloadRequest{Name: name, Version: version})
	return plain(err)
}

// Close ends the loader (OVMS's loaderDeInit).
func (c *Client) Close(ctx context.Context) error {
	_, err := c.rpc.Close(ctx, &loaderv1.CloseRequest{})
	return plain(err)
}

// plain turns a gRPC status from the loader into an error carrying its
// message only (the loader's words reach the logs and model status).
func plain(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return &Error{Code: s.Code().String(), Message: s.Message()}
	}
	return err
}

// Error is a failed loader call.
type Error struct {
	// Code is the gRPC code's name (Unavailable when the process is gone).
	Code string
	// Message is the loader's message.
	Message string
}

// Error is the loader's message.
func (e *Error) Error() string { return e.Message }
