package customnode

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// releaseTimeout bounds the call that returns output buffers to a library.
const releaseTimeout = 5 * time.Second

// Node is one node of one pipeline: a library instance with its params.
type Node struct {
	lib    *library
	name   string
	key    device.ModelKey
	params map[string]string
	info   *device.ModelInfo
	closed atomic.Bool
	broken atomic.Pointer[error] // set when a restart could not load it again
}

func (n *Node) loadRequest() *device.LoadRequest {
	return &device.LoadRequest{Model: n.key, PluginConfig: n.params, TargetDevice: Family}
}

// Info is the node's inputs and outputs as the library reports them for
// its params.
func (n *Node) Info() *device.ModelInfo { return n.info }

// Infer runs the node on req: inputs are checked against the node's
// inputs (OVMS's messages, as for a model), written into the library's
// arena, and the outputs come back aliasing it until the response is
// released. The library's outputs are checked against its metadata.
// Errors are *apierr.Error values.
func (n *Node) Infer(ctx context.Context, req *tensor.Request) (*tensor.Response, error) {
	if n.closed.Load() {
		return nil, apierr.Newf(apierr.NodeLibraryMissing, "node %s is closed", n.name)
	}
	if err := tensor.Validate(n.info.Inputs, req); err != nil {
		return nil, err
	}
	for _, o := range req.Outputs {
		if outputInfo(n.info, o) == nil {
			return nil, apierr.Newf(apierr.InvalidMissingOutput, "Required output: %s", o)
		}
	}
	for try := 0; ; try++ {
		resp, err := n.try(ctx, req)
		if err != errNotSent || try == maxTries-1 {
			if err == errNotSent {
				err = n.crashed(nil)
			}
			return resp, err
		}
		// The process had ended before this request reached it (the host
		// had not noticed yet): wait for the restart and run it there.
	}
}

// maxTries bounds the tries of a request that found its library's process
// ended before sending.
const maxTries = 3

// errNotSent is a try that found the process ended before sending.
var errNotSent = errors.New("custom node library process ended before the request was sent")

// try runs one request on the library's current process.
func (n *Node) try(ctx context.Context, req *tensor.Request) (*tensor.Response, error) {
	inst, err := n.lib.serving(ctx)
	if err != nil {
		return nil, err
	}
	if b := n.broken.Load(); b != nil {
		return nil, apierr.Wrap(apierr.NodeLibraryInitializeFailed, *b, "%v", *b)
	}
	if !inst.Hold() {
		n.lib.awaitGone(ctx, inst)
		return nil, errNotSent
	}
	held := true
	defer func() {
		if held {
			inst.Unhold()
		}
	}()
	arena, zone := inst.Arena, inst.Arena.HostZone()
	refs := make([]device.TensorRef, len(req.Inputs))
	offs := make([]uint64, 0, len(req.Inputs))
	defer func() {
		for _, off := range offs {
			_ = zone.Free(off)
		}
	}()
	for i := range req.Inputs {
		in := &req.Inputs[i]
		if in.Shm != nil {
			id, err := in.Shm.Region.MapOn(ctx, inst.Device)
			if err != nil {
				return nil, err
			}
			refs[i] = device.TensorRef{Name: in.Name, DType: in.DType, Shape: in.Shape, Offset: in.Shm.Offset, Length: in.Shm.Size, Region: id}
			continue
		}
		ref, off, err := in.Place(arena, in.Name)
		if err != nil {
			return nil, err
		}
		offs = append(offs, off)
		refs[i] = ref
	}
	if inst.Exited() {
		n.lib.awaitGone(ctx, inst)
		return nil, errNotSent
	}
	// Not cancelled with the client: the inputs must stay put until the
	// library is done, and the outputs' lease must come back.
	resp, err := inst.Device.Infer(context.WithoutCancel(ctx), &device.InferRequest{Model: n.key, Inputs: refs, Outputs: req.Outputs})
	if err != nil {
		if inst.Exited() || inst.Gone() {
			return nil, n.crashed(err)
		}
		return nil, n.libraryError(err)
	}
	leased := inst.LeaseOutputs(resp.Outputs)
	release := func() { // called once (tensor.Response.Release, or the error below)
		inst.UnleaseOutputs(leased)
		if inst.Gone() {
			return // its buffers went with the process
		}
		rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		if err := inst.Device.Release(rctx, resp.Lease); err != nil && !inst.Gone() {
			n.lib.log.WithError(err).WithField("node", n.name).Warn("releasing output buffers failed")
		}
	}
	outs, err := n.outputs(arena, resp.Outputs, req.Outputs)
	if err != nil {
		release()
		return nil, err
	}
	held = false // until the response is released
	return tensor.NewResponse(n.name, 1, outs, func() { release(); inst.Unhold() }), nil
}

// outputs checks the library's outputs against the node's metadata (every
// one asked for present, declared type, rank and static dimensions, size)
// and wraps them.
func (n *Node) outputs(arena interface {
	Bytes(off, n uint64) ([]byte, error)
}, refs []device.TensorRef, asked []string) ([]tensor.Output, error) {
	outs := make([]tensor.Output, len(refs))
	for i, o := range refs {
		d := outputInfo(n.info, o.Name)
		if d == nil {
			return nil, apierr.Newf(apierr.NodeLibraryMissingOutput, "node %s returned undeclared output %s", n.name, o.Name)
		}
		if o.DType != d.DType {
			return nil, apierr.Newf(apierr.NodeLibraryInvalidPrecision, "node %s output %s is %v, declared %v", n.name, o.Name, o.DType, d.DType)
		}
		if !fits(d, o.Shape) {
			return nil, apierr.Newf(apierr.NodeLibraryInvalidShape, "node %s output %s has shape %v, declared %s", n.name, o.Name, tensor.Shape(o.Shape), d.ShapeString())
		}
		want := uint64(o.DType.Size())
		for _, dim := range o.Shape {
			want *= uint64(dim)
		}
		if o.Length != want {
			return nil, apierr.Newf(apierr.NodeLibraryInvalidContentSize, "node %s output %s holds %d bytes, its shape %v needs %d", n.name, o.Name, o.Length, tensor.Shape(o.Shape), want)
		}
		data, err := arena.Bytes(o.Offset, o.Length)
		if err != nil {
			return nil, apierr.Wrap(apierr.InternalError, err, "node %s output %s", n.name, o.Name)
		}
		outs[i] = tensor.Output{Name: o.Name, DType: o.DType, Shape: o.Shape, Data: data, Length: o.Length}
	}
	for _, d := range n.info.Outputs {
		if !wanted(asked, d.Name) {
			continue
		}
		found := false
		for _, o := range refs {
			found = found || o.Name == d.Name
		}
		if !found {
			return nil, apierr.Newf(apierr.NodeLibraryMissingOutput, "node %s did not produce output %s", n.name, d.Name)
		}
	}
	return outs, nil
}

func wanted(asked []string, name string) bool {
	if len(asked) == 0 {
		return true
	}
	for _, a := range asked {
		if a == name {
			return true
		}
	}
	return false
}

func outputInfo(mi *device.ModelInfo, name string) *device.TensorInfo {
	for i := range mi.Outputs {
		if mi.Outputs[i].Name == name {
			return &mi.Outputs[i]
		}
	}
	return nil
}

// fits reports whether shape has d's rank and static dimensions.
func fits(d *device.TensorInfo, shape []int64) bool {
	if len(shape) != len(d.Shape) {
		return false
	}
	for i, dim := range shape {
		if dim < 0 || !d.InRange(i, dim) {
			return false
		}
	}
	return true
}

// crashed is the error of a request whose library process ended under it.
func (n *Node) crashed(err error) error {
	n.lib.log.WithFields(logrus.Fields{"node": n.name}).WithError(err).Warn("custom node request failed: its library process ended")
	return apierr.Wrap(apierr.NodeLibraryUnavailable, err, "custom node library %s ended while running node %s; it is being restarted", n.lib.name, n.name)
}

// libraryError maps an error the library answered.
func (n *Node) libraryError(err error) error {
	msg := fmt.Sprintf("node %s: %s", n.name, errorMessage(err))
	switch status.Code(err) {
	case codes.ResourceExhausted:
		return apierr.Wrap(apierr.ArenaFull, err, "%s", msg)
	case codes.NotFound:
		return apierr.Wrap(apierr.NodeLibraryUnavailable, err, "%s", msg)
	case codes.Unavailable, codes.Canceled:
		return apierr.Wrap(apierr.NodeLibraryUnavailable, err, "%s", msg)
	}
	return apierr.Wrap(apierr.NodeLibraryExecutionFailed, err, "%s", msg)
}

// errorMessage is a gRPC error's message without its code.
func errorMessage(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}

// Close unloads the node from its library (OVMS's deinitialize). Requests
// still running finish.
func (n *Node) Close() {
	if n.closed.Swap(true) {
		return
	}
	l := n.lib
	l.mu.Lock()
	delete(l.nodes, n)
	inst := l.inst
	l.mu.Unlock()
	if inst == nil || inst.Gone() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := inst.Device.Unload(ctx, n.key); err != nil && !inst.Gone() {
		l.log.WithError(err).WithField("node", n.name).Warn("unloading a custom node failed")
	}
}
