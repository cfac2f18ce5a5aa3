package customnode

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/plugins"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Engine is what a library reports as its engine (ovms plugin list).
const Engine = "custom node (Go)"

// Serve runs a custom node library process: name is the library's name in
// logs and `ovms plugin list` (by convention the <name> of its
// ovms-node-<name> file), factory builds its nodes. It never returns.
func Serve(name string, factory Factory) {
	plugins.ServeDevice(name, Device(name, factory))
}

// Device adapts a library to the device plugin contract ovms speaks to its
// plugin processes: Load builds a Node from the LoadRequest's PluginConfig
// (the node's params) and answers its metadata, Unload closes it, Infer
// runs Execute. Serve uses it; tests can serve it with
// plugins/device/devicetest.
func Device(name string, factory Factory) device.Factory {
	return func(env *device.Env) (device.Device, error) {
		return &library{name: name, factory: factory, env: env}, nil
	}
}

// library is a custom node library served as a device.
type library struct {
	name    string
	factory Factory
	env     *device.Env
	mu      sync.Mutex
	nodes   map[device.ModelKey]*loaded
}

// loaded is one node of the library with its params. Its fields other
// than node and params are guarded by the library's mu: a node unloaded or
// replaced while requests run on it is closed by the last of them.
type loaded struct {
	node    Node
	params  Params
	running int  // Execute calls in progress
	gone    bool // unloaded or replaced: close once running is zero
}

// retire marks n unloaded (l.mu held) and reports whether to close it now.
func (n *loaded) retire() bool {
	n.gone = true
	return n.running == 0
}

// done ends one Execute on n, closing it if it was the last on a node
// unloaded meanwhile.
func (l *library) done(n *loaded) {
	l.mu.Lock()
	n.running--
	last := n.gone && n.running == 0
	l.mu.Unlock()
	if last {
		closeNode(n.node)
	}
}

func (l *library) Info(context.Context) (*device.Info, error) {
	v := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
	}
	return &device.Info{Name: l.name, Version: v, Engine: Engine}, nil
}

// Load initializes one node with its params.
func (l *library) Load(_ context.Context, req *device.LoadRequest) (mi *device.ModelInfo, err error) {
	params := Params(req.PluginConfig)
	if params == nil {
		params = Params{}
	}
	defer recoverTo(&err, "initialize")
	node, err := l.factory(params)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "initialize: %v", err)
	}
	if node == nil {
		return nil, status.Errorf(codes.Internal, "initialize: the factory returned no node")
	}
	mi = &device.ModelInfo{Inputs: node.Inputs(), Outputs: node.Outputs()}
	if err := checkInfo(mi); err != nil {
		closeNode(node)
		return nil, status.Errorf(codes.InvalidArgument, "metadata: %v", err)
	}
	l.mu.Lock()
	if l.nodes == nil {
		l.nodes = map[device.ModelKey]*loaded{}
	}
	old := l.nodes[req.Model]
	l.nodes[req.Model] = &loaded{node: node, params: params}
	closeOld := old != nil && old.retire()
	l.mu.Unlock()
	if closeOld {
		closeNode(old.node)
	}
	return mi, nil
}

// checkInfo refuses metadata ovms cannot use: unnamed or duplicate tensors,
// unknown types, dimensions below -1.
func checkInfo(mi *device.ModelInfo) error {
	if len(mi.Outputs) == 0 {
		return fmt.Errorf("the node declares no outputs")
	}
	for what, list := range map[string][]device.TensorInfo{"input": mi.Inputs, "output": mi.Outputs} {
		seen := map[string]bool{}
		for _, t := range list {
			switch {
			case t.Name == "":
				return fmt.Errorf("an %s has no name", what)
			case seen[t.Name]:
				return fmt.Errorf("%s %q is declared twice", what, t.Name)
			case !t.DType.Valid() || t.DType == device.String:
				return fmt.Errorf("%s %q: unsupported data type %v", what, t.Name, t.DType)
			}
			seen[t.Name] = true
			for _, d := range t.Shape {
				if d < -1 {
					return fmt.Errorf("%s %q: dimension %d (use -1 for a dynamic one)", what, t.Name, d)
				}
			}
		}
	}
	return nil
}

// Unload deinitializes one node (once the requests running on it are
// done).
func (l *library) Unload(_ context.Context, key device.ModelKey) error {
	l.mu.Lock()
	n := l.nodes[key]
	delete(l.nodes, key)
	closeNow := n != nil && n.retire()
	l.mu.Unlock()
	if closeNow {
		closeNode(n.node)
	}
	return nil
}

func closeNode(n Node) {
	if c, ok := n.(io.Closer); ok {
		_ = c.Close()
	}
}

// Infer executes one request on a node. A panic in Execute fails the
// request (its outputs freed), not the process.
func (l *library) Infer(ctx context.Context, req *device.InferRequest) (*device.InferResponse, error) {
	l.mu.Lock()
	n := l.nodes[req.Model]
	if n != nil {
		n.running++
	}
	l.mu.Unlock()
	if n == nil {
		return nil, status.Errorf(codes.NotFound, "node %s is not loaded", req.Model.Name)
	}
	defer l.done(n)
	return l.env.Respond(req, func(dc *device.Call) (err error) {
		defer recoverTo(&err, "execute")
		return n.node.Execute(ctx, &Call{dc: dc, params: n.params})
	})
}

// recoverTo turns a panic into an INTERNAL error in *err.
func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		*err = status.Errorf(codes.Internal, "%s panicked: %v", what, r)
	}
}
