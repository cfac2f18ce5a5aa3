package modelmanager

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/core/tracing"
	"github.com/ovmsgo/ovms/plugins/device"
)

// releaseTimeout bounds the call that returns output buffers to a plugin.
const releaseTimeout = 5 * time.Second

// attempt says how one try of a request runs.
type attempt struct {
	// retry marks the one retry of a request whose plugin died while it
	// ran: it runs alone in its process (never batched, see
	// pluginhost.Instance.Quarantine) and its inputs are fingerprinted.
	retry bool
}

// infer is one try of Infer (see retry.go): it validates req against the
// version's inputs, writes the inputs into the plugin's arena (the only
// copy of request bytes on this path), runs the plugin and returns outputs
// that alias the arena. The caller holds the version (Acquire) and must
// Release the response when it has been sent. A failure because the
// plugin process ended is a *crashError.
func (v *Version) infer(ctx context.Context, req *tensor.Request, at attempt) (*tensor.Response, error) {
	req.Layouts, req.NoEmpty = v.layouts, len(v.info.EmptyUnsafe) > 0
	if err := tensor.Validate(v.info.Inputs, req); err != nil {
		nv := v.autoReshape(ctx, req, err)
		if nv == nil {
			return nil, err
		}
		defer nv.Release()
		req.Layouts, req.NoEmpty = nv.layouts, len(nv.info.EmptyUnsafe) > 0
		if err := tensor.Validate(nv.info.Inputs, req); err != nil {
			return nil, err
		}
		v = nv
	}
	outs, err := v.checkOutputs(req.Outputs)
	if err != nil {
		return nil, err
	}
	req.Outputs = outs
	if v.batcher != nil && !at.retry {
		if n, ok := v.batcher.eligible(req); ok {
			return v.batcher.infer(ctx, req, n)
		}
	}
	met := v.met
	waitStart := met.Clock()
	if waitStart.IsZero() {
		waitStart = tracing.Now()
	}
	done, err := v.slot(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	met.Waited(waitStart)
	tracing.Queue(ctx, waitStart, time.Time{}, false)
	defer met.Finished()
	inst, finished := v.pick()
	defer finished()
	if !inst.Hold() { // its process ended since the version was pinned
		return nil, &crashError{v: v, inst: inst, err: errGone}
	}
	held := true
	defer func() {
		if held {
			inst.Unhold()
		}
	}()
	if at.retry {
		release, ok := inst.Quarantine(ctx)
		if !ok {
			return nil, &crashError{v: v, inst: inst, err: errGone}
		}
		defer release()
	}
	arena := inst.Arena
	zone := arena.HostZone()
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
			refs[i] = device.TensorRef{Name: v.names.in(in.Name), DType: in.DType, Shape: in.Shape, Offset: in.Shm.Offset, Length: in.Shm.Size, Region: id}
			continue
		}
		if in.Arena != nil && in.Arena.Owner == inst && in.HasRaw && in.RawParts == nil && in.DType != device.String {
			// Already in this plugin's arena (the previous pipeline node's
			// output, leased until the pipeline is done with it): no copy.
			refs[i] = device.TensorRef{Name: v.names.in(in.Name), DType: in.DType, Shape: in.Shape, Offset: in.Arena.Offset, Length: uint64(len(in.Raw))}
			continue
		}
		ref, off, err := in.Place(arena, v.names.in(in.Name))
		if err != nil {
			return nil, err
		}
		offs = append(offs, off)
		refs[i] = ref
	}
	placements, err := v.placements(ctx, inst, req.Placements)
	if err != nil {
		return nil, err
	}
	var fp *fingerprint
	if at.retry || v.poison.active() {
		f := newFingerprint(arena, refs)
		if at.retry {
			f.compute() // now, while this request holds the arena
		}
		if err := v.poison.refuse(v, &f); err != nil {
			return nil, err
		}
		fp = &f
	}
	if inst.Exited() { // died while the inputs were written: not this request's doing
		return nil, &crashError{v: v, inst: inst, err: errGone}
	}
	// The plugin call is not cancelled with the client: input buffers must
	// stay put until the plugin is done, and the outputs' lease must reach us.
	inferStart := met.Clock()
	if inferStart.IsZero() {
		inferStart = tracing.Now()
	}
	dreq := &device.InferRequest{
		Model:      v.key,
		Inputs:     refs,
		Outputs:    v.names.outs(req.Outputs),
		Placements: placements,
	}
	if req.Sequence != nil && v.stateful() {
		dreq.SequenceID, dreq.SequenceControl = req.Sequence.ID, req.Sequence.Control
	}
	resp, err := inst.Device.Infer(context.WithoutCancel(ctx), dreq)
	met.Inferred(inferStart, engineRun(resp))
	if tracing.On() {
		tracePlugin(ctx, inst, inferStart, time.Now(), resp, 0, err)
	}
	if err != nil {
		if inst.Exited() || inst.Gone() {
			return nil, &crashError{v: v, inst: inst, err: err, sent: true, fp: fp}
		}
		return nil, pluginError(err)
	}
	out, err := v.response(inst, resp, v.stateful())
	if err == nil {
		held = false // until the response is released
	}
	return out, err
}

// response wraps a plugin's result: the outputs alias the arena, which the
// caller's hold on inst keeps mapped until the response is released.
func (v *Version) response(inst *pluginhost.Instance, resp *device.InferResponse, sequence bool) (*tensor.Response, error) {
	arena := inst.Arena
	leased := inst.LeaseOutputs(resp.Outputs)
	release := func() { // called once (tensor.Response.Release, or the error below)
		inst.UnleaseOutputs(leased)
		if inst.Gone() {
			return // its buffers went with the process
		}
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		if err := inst.Device.Release(ctx, resp.Lease); err != nil && !inst.Gone() {
			logrus.WithError(err).WithFields(logrus.Fields{"model": v.Model, "version": v.Number}).Warn("releasing output buffers failed")
		}
	}
	n := len(resp.Outputs)
	if sequence {
		n++ // room for the sequence_id output
	}
	outs := make([]tensor.Output, len(resp.Outputs), n)
	for i, o := range resp.Outputs {
		name := v.names.alias(o.Name)
		if o.Region != 0 {
			outs[i] = tensor.Output{Name: name, DType: o.DType, Shape: o.Shape, Placed: true, Length: o.Length}
			continue
		}
		data, err := arena.Bytes(o.Offset, o.Length)
		if err != nil {
			release()
			return nil, apierr.Wrap(apierr.InternalError, err, "output %s", name)
		}
		outs[i] = tensor.Output{Name: name, DType: o.DType, Shape: o.Shape, Data: data, Length: o.Length,
			Arena: tensor.ArenaRef{Owner: inst, Offset: o.Offset}}
	}
	if sequence {
		outs = append(outs, sequenceOutput(resp.SequenceID))
	}
	return tensor.NewResponse(v.Model, v.Number, outs, func() { release(); inst.Unhold() }), nil
}

// engineRun is how long the engine ran as the plugin reported it with resp
// (its start and end, Unix nanoseconds), or -1 when it reported none (a
// failed call, a plugin that does not time its engine).
func engineRun(resp *device.InferResponse) time.Duration {
	if resp == nil || resp.EngineStart <= 0 || resp.EngineEnd < resp.EngineStart {
		return -1
	}
	return time.Duration(resp.EngineEnd - resp.EngineStart)
}

// tracePlugin records a plugin call that ran from start to end (and the
// engine run it reported in resp, nil when it failed with err) under the
// request's span in ctx; rows is the dynamic batch's size, 0 for none.
func tracePlugin(ctx context.Context, inst *pluginhost.Instance, start, end time.Time, resp *device.InferResponse, rows int, err error) {
	c := tracing.PluginCall{Family: inst.Family, Process: inst.Key.String(), PID: inst.Pid(), Start: start, End: end, Rows: rows, Err: err}
	if resp != nil {
		c.EngineStart, c.EngineEnd = resp.EngineStart, resp.EngineEnd
	}
	tracing.Plugin(ctx, &c)
}

// placements maps requested output placements to device references.
func (v *Version) placements(ctx context.Context, inst *pluginhost.Instance, ps map[string]tensor.ShmRef) ([]device.TensorRef, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]device.TensorRef, 0, len(ps))
	v.servedKeys(ps)
	for name, p := range ps {
		if _, ok := v.outputName(name); !ok {
			return nil, apierr.Newf(apierr.InvalidMissingOutput, "Required output: %s", name)
		}
		id, err := p.Region.MapOn(ctx, inst.Device)
		if err != nil {
			return nil, err
		}
		out = append(out, device.TensorRef{Name: v.names.out(name), Offset: p.Offset, Length: p.Size, Region: id})
	}
	return out, nil
}

// checkOutputs rejects requested output names the model does not have. An
// output named by one of its aliases is renamed to the name it is served
// by: names is then copied (it may alias the request message).
func (v *Version) checkOutputs(names []string) ([]string, error) {
	copied := false
	for i, n := range names {
		served, ok := v.outputName(n)
		if !ok {
			return nil, apierr.Newf(apierr.InvalidMissingOutput, "Required output: %s", n)
		}
		if served != n {
			if !copied {
				names, copied = append([]string(nil), names...), true
			}
			names[i] = served
		}
	}
	return names, nil
}

// outputName is the served name of the output a request names n (by its
// name or one of its aliases), and whether the model has it.
func (v *Version) outputName(n string) (string, bool) {
	outs := v.info.Outputs
	for i := range outs {
		if outs[i].Name == n {
			return n, true
		}
	}
	for i := range outs {
		for _, a := range outs[i].Aliases {
			if a == n {
				return outs[i].Name, true
			}
		}
	}
	return "", false
}

// ServedOutputName is the name an output that a request names n (by its
// name or one of its aliases) is served by; n itself when the model has no
// such output.
func (v *Version) ServedOutputName(n string) string {
	if s, ok := v.outputName(n); ok {
		return s
	}
	return n
}

// servedKeys renames, in place, the keys of m that are output aliases to
// the outputs' served names (the API adapters look the served names up
// once the response is back). Nothing happens for a model without aliases.
func (v *Version) servedKeys(m map[string]tensor.ShmRef) {
	var renamed map[string]string
	for k := range m {
		if s, ok := v.outputName(k); ok && s != k {
			if renamed == nil {
				renamed = map[string]string{}
			}
			renamed[k] = s
		}
	}
	for k, s := range renamed {
		if _, taken := m[s]; !taken {
			m[s] = m[k]
			delete(m, k)
		}
	}
}

// pluginError maps a plugin's gRPC error to an API error.
func pluginError(err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	if se, ok := device.ParseSequenceError(err); ok {
		return sequenceError(se)
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument, codes.Internal, codes.Unknown, codes.FailedPrecondition:
		return apierr.Wrap(apierr.InferenceError, err, "%s", st.Message())
	case codes.ResourceExhausted:
		return apierr.Wrap(apierr.ArenaFull, err, "%s", st.Message())
	case codes.OutOfRange: // a client region changed under the request (device.RegionError)
		return apierr.Wrap(apierr.SharedMemoryInvalid, err, "%s", st.Message())
	case codes.NotFound:
		return apierr.Wrap(apierr.ModelVersionNotLoadedAnymore, err, "%s", st.Message())
	}
	return apierr.Wrap(apierr.DeviceUnavailable, err, "%s", st.Message())
}
