package server

import (
	"context"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/customnode"
	"github.com/ovmsgo/ovms/core/logging"
	"github.com/ovmsgo/ovms/core/pipeline"
	"github.com/ovmsgo/ovms/core/pluginhost"
)

// newNodeHost is the custom node library host (processes of its own; none
// starts before a config lists a library). Pipelines open their custom
// nodes on it.
func newNodeHost(cfg config.Server, env []string) *customnode.Host {
	return customnode.New(pluginhost.Config{ArenaBytes: uint64(cfg.ArenaMB) << 20, Env: env}, logging.Component("custom_node"))
}

// applyNodes starts and stops custom node libraries to match f, before
// models and pipelines are applied (as OVMS loads libraries first). A
// library that fails to start is logged; the rest of the config applies.
func (r *reloader) applyNodes(ctx context.Context, f *config.File) {
	if r.nodes == nil {
		return
	}
	if err := r.nodes.Apply(ctx, f.NodeLibraries); err != nil {
		r.log.WithError(err).Error("some custom node libraries did not start")
	}
}

// nodeOpener opens the custom nodes of pipelines on the custom node host.
type nodeOpener struct{ host *customnode.Host }

// Open implements pipeline.NodeOpener.
func (o nodeOpener) Open(ctx context.Context, library, node string, params map[string]string) (pipeline.Node, error) {
	n, err := o.host.Open(ctx, library, node, params)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return n, nil
}

// Library implements pipeline.LibraryTracker: pipelines using a library
// are validated again when it is removed, added back or moved.
func (o nodeOpener) Library(name string) any { return o.host.Library(name) }
