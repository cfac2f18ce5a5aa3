package host

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/ovmsgo/ovms/plugins/host/dataplane"
	"github.com/ovmsgo/ovms/plugins/shm"
	devicev1 "github.com/ovmsgo/ovms/proto/ovms/plugin/device/v1"
)

// PluginName is the key of the device plugin in go-plugin's plugin set.
const PluginName = "device"

// Handshake is checked by both sides before anything else; a binary that is
// not an ovms device plugin exits with a clear message instead of serving.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "OVMS_DEVICE_PLUGIN",
	MagicCookieValue: "d1e5c0a7-ovms-device",
}

// Plugin adapts a Device to go-plugin. In the plugin process Impl and Arena
// are set; in the host only Arena is needed.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the device served by the plugin process.
	Impl Device
	// Arena is the shared-memory arena of this plugin connection.
	Arena *shm.Arena
	// Logger, in the plugin process, receives a debug line per request
	// describing what crossed the control channel.
	Logger *logrus.Entry
	// Channel, in the plugin process, is the data-plane endpoint requests
	// also arrive on (nil: gRPC only).
	Channel *dataplane.Endpoint
	// Regions, in the plugin process, holds the client regions MapRegion
	// maps (nil: client regions are refused).
	Regions *shm.RegionTable
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the device service (plugin side).
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv := newServer(p.Impl, p.Arena, p.Regions, p.Logger)
	devicev1.RegisterDeviceServer(s, srv)
	if p.Channel != nil {
		go func() {
			_ = srv.serveChannel(p.Channel)
			srv.log.Warn("data-plane channel closed")
		}()
	}
	return nil
}

// GRPCClient returns a *Client (host side).
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewClient(devicev1.NewDeviceClient(c)), nil
}
