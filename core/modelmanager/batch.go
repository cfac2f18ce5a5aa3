package modelmanager

import (
	"context"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/core/tracing"
	"github.com/ovmsgo/ovms/plugins/device"
)

// write places a member's inputs into its rows of the batch buffers.
func (bt *batch) write(in map[string]*tensor.Input, row, n int) error {
	arena := bt.inst.Arena
	for i, t := range bt.b.v.info.Inputs {
		x := in[t.Name]
		dst, err := arena.Bytes(bt.offs[i]+uint64(row)*bt.rowLen[i], uint64(n)*bt.rowLen[i])
		if err != nil {
			return apierr.Wrap(apierr.InternalError, err, "input %s", t.Name)
		}
		if err := x.WriteTo(dst, x.DType); err != nil {
			return apierr.Wrap(apierr.InvalidPrecision, err, "%v; input name: %s", err, t.Name)
		}
	}
	return nil
}

// dispatch waits for the members' rows, runs the batch and wakes them.
func (bt *batch) dispatch() {
	b := bt.b
	bt.writers.Wait()
	refs := make([]device.TensorRef, len(bt.offs))
	for i, t := range b.v.info.Inputs {
		shape := append(tensor.Shape{int64(bt.rows)}, bt.shapes[i]...)
		refs[i] = device.TensorRef{Name: b.v.names.in(t.Name), DType: bt.dtypes[i], Shape: shape, Offset: bt.offs[i], Length: uint64(bt.rows) * bt.rowLen[i]}
	}
	met := b.v.met
	bt.sentAt = met.Clock()
	if bt.sentAt.IsZero() {
		bt.sentAt = tracing.Now()
	}
	met.Batched(bt.rows)
	resp, err := bt.inst.Device.Infer(context.Background(), &device.InferRequest{
		Model:  b.v.key,
		Inputs: refs,
	})
	met.Inferred(bt.sentAt, engineRun(resp))
	bt.doneAt = tracing.Now()
	bt.pluginErr = err
	bt.free()
	switch {
	case err != nil && (bt.inst.Exited() || bt.inst.Gone()):
		bt.err = &crashError{v: b.v, inst: bt.inst, err: err, sent: true} // each member runs again alone
	case err != nil:
		bt.err = pluginError(err)
	default:
		bt.resp = resp
		bt.leased = bt.inst.LeaseOutputs(resp.Outputs)
		for _, o := range resp.Outputs {
			if len(o.Shape) == 0 || o.Shape[0] != int64(bt.rows) {
				bt.err = apierr.Newf(apierr.InferenceError, "output %s of a batch of %d has shape %s", o.Name, bt.rows, tensor.Shape(o.Shape))
			}
		}
	}
	close(bt.done)
	if b.inFlight.Add(-1) == 0 {
		b.idle()
	}
}

// free returns the batch's input buffers.
func (bt *batch) free() {
	for _, off := range bt.offs {
		_ = bt.inst.Arena.HostZone().Free(off)
	}
	bt.offs = nil
}

// member builds one request's response: its rows of every output (or of
// the requested ones), aliasing the batch's output buffers.
func (bt *batch) member(row, n int, want []string) (*tensor.Response, error) {
	arena := bt.inst.Arena
	outs := make([]tensor.Output, 0, len(bt.resp.Outputs))
	for _, o := range bt.resp.Outputs {
		name := bt.b.v.names.alias(o.Name)
		if len(want) > 0 && !contains(want, name) {
			continue
		}
		rowLen := o.Length / uint64(bt.rows)
		data, err := arena.Bytes(o.Offset+uint64(row)*rowLen, uint64(n)*rowLen)
		if err != nil {
			bt.release()
			return nil, apierr.Wrap(apierr.InternalError, err, "output %s", name)
		}
		shape := append(tensor.Shape{int64(n)}, o.Shape[1:]...)
		outs = append(outs, tensor.Output{Name: name, DType: o.DType, Shape: shape, Data: data, Length: uint64(len(data))})
	}
	return tensor.NewResponse(bt.b.v.Model, bt.b.v.Number, outs, bt.release), nil
}

// release drops one member's hold; the last one returns the outputs and
// the batch's hold on its plugin's arena.
func (bt *batch) release() {
	if bt.holders.Add(-1) != 0 {
		return
	}
	defer bt.inst.Unhold()
	bt.inst.UnleaseOutputs(bt.leased)
	if bt.resp == nil || bt.inst.Gone() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_ = bt.inst.Device.Release(ctx, bt.resp.Lease)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
