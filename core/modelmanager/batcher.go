package modelmanager

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/pluginhost"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/core/tracing"
	"github.com/ovmsgo/ovms/plugins/device"
)

// batcher gathers concurrent requests of one version into one engine call
// along the first dimension. A request claims rows of the open batch of
// its shape and writes its inputs straight into the batch's arena buffers,
// so batching adds no copy; the batch goes to the plugin when it is full,
// reaches the largest preferred size, or has waited max_queue_delay (with a
// delay of 0: as soon as the device is idle). Every member then gets its
// rows of the outputs, aliasing the plugin's buffers, and the last member
// to release its response releases the batch's lease.
type batcher struct {
	v         *Version
	max       int
	preferred int
	delay     time.Duration
	inFlight  atomic.Int64

	mu   sync.Mutex
	open map[string]*batch // by shape signature
}

// batch is one group of requests sent to the plugin together.
type batch struct {
	b       *batcher
	inst    *pluginhost.Instance // held from newBatch until the last member's release
	sig     string
	shapes  []tensor.Shape // per model input, without the first dimension
	dtypes  []tensor.DataType
	offs    []uint64 // arena buffers, one per model input, max rows each
	rowLen  []uint64 // bytes of one row per model input
	rows    int
	sent    bool
	writers sync.WaitGroup
	done    chan struct{}
	resp    *device.InferResponse
	// leased is what pluginhost.LeaseOutputs counted for resp's outputs.
	leased  int64
	err     error
	holders atomic.Int32 // members still holding the outputs
	sentAt  time.Time    // when the batch went to the device (metrics or tracing on only)
	// doneAt is when the device answered, and pluginErr its error (tracing
	// on only).
	doneAt    time.Time
	pluginErr error
}

// newBatcher checks that the model can be batched: every input and output
// has a dynamic first dimension, and no input is a string.
func newBatcher(v *Version, cfg *config.DynamicBatching) (*batcher, error) {
	for _, t := range v.info.Inputs {
		if len(t.Shape) == 0 || t.Shape[0] != -1 || t.DType == device.String {
			return nil, fmt.Errorf("dynamic batching needs a dynamic first dimension on every numeric input; input %s is %s %s", t.Name, tensor.PrecisionName(t.DType), tensor.Shape(t.Shape))
		}
	}
	for _, t := range v.info.Outputs {
		if len(t.Shape) == 0 || t.Shape[0] != -1 {
			return nil, fmt.Errorf("dynamic batching needs a dynamic first dimension on every output; output %s is %s", t.Name, tensor.Shape(t.Shape))
		}
	}
	b := &batcher{v: v, max: cfg.MaxBatchSize, preferred: cfg.MaxBatchSize, delay: time.Duration(cfg.MaxQueueDelayMicroseconds) * time.Microsecond, open: map[string]*batch{}}
	if len(cfg.PreferredBatchSize) > 0 {
		b.preferred = 0
		for _, p := range cfg.PreferredBatchSize {
			b.preferred = max(b.preferred, p)
		}
	}
	return b, nil
}

// eligible reports the rows of a request that can join a batch: all
// inputs in the arena with one first dimension n, 1 <= n <= max.
func (b *batcher) eligible(req *tensor.Request) (int, bool) {
	if len(req.Placements) > 0 {
		return 0, false
	}
	n := int64(-1)
	for _, in := range req.Inputs {
		if in.Shm != nil || len(in.Shape) == 0 || (n >= 0 && in.Shape[0] != n) {
			return 0, false
		}
		n = in.Shape[0]
	}
	return int(n), n >= 1 && n <= int64(b.max)
}

// infer runs a validated request as part of a batch.
func (b *batcher) infer(ctx context.Context, req *tensor.Request, n int) (*tensor.Response, error) {
	byName := make(map[string]*tensor.Input, len(req.Inputs))
	for i := range req.Inputs {
		byName[req.Inputs[i].Name] = &req.Inputs[i]
	}
	sig := b.signature(byName)
	joined := b.v.met.Clock()
	if joined.IsZero() {
		joined = tracing.Now()
	}
	bt, row, err := b.join(sig, byName, n)
	if err != nil {
		return nil, err
	}
	err = bt.write(byName, row, n)
	bt.writers.Done()
	<-bt.done
	b.v.met.Queued(joined, bt.sentAt)
	if tracing.On() {
		tracing.Queue(ctx, joined, bt.sentAt, true)
		tracePlugin(ctx, bt.inst, bt.sentAt, bt.doneAt, bt.resp, bt.rows, bt.pluginErr)
	}
	if err != nil {
		bt.release()
		return nil, err
	}
	if bt.err != nil {
		bt.release()
		return nil, bt.err
	}
	return bt.member(row, n, req.Outputs)
}

// signature identifies requests that can share a batch: the same dtypes
// and the same dimensions after the first, for every model input.
func (b *batcher) signature(in map[string]*tensor.Input) string {
	var s strings.Builder
	for _, t := range b.v.info.Inputs {
		x := in[t.Name]
		fmt.Fprintf(&s, "%d%s;", x.DType, x.Shape[1:])
	}
	return s.String()
}

// join claims n rows of the open batch of sig, opening one if needed.
func (b *batcher) join(sig string, in map[string]*tensor.Input, n int) (*batch, int, error) {
	b.mu.Lock()
	bt := b.open[sig]
	if bt != nil && bt.rows+n > b.max {
		b.closeLocked(bt)
		bt = nil
	}
	if bt == nil {
		var err error
		if bt, err = b.newBatch(sig, in); err != nil {
			b.mu.Unlock()
			return nil, 0, err
		}
		b.open[sig] = bt
		if b.delay > 0 {
			time.AfterFunc(b.delay, func() { b.expire(bt) })
		}
	}
	row := bt.rows
	bt.rows += n
	bt.holders.Add(1)
	bt.writers.Add(1)
	if bt.rows >= b.preferred || (b.delay == 0 && b.inFlight.Load() == 0) {
		b.closeLocked(bt)
	}
	b.mu.Unlock()
	return bt, row, nil
}

func (b *batcher) newBatch(sig string, in map[string]*tensor.Input) (*batch, error) {
	inst := b.v.inst
	if !inst.Hold() {
		return nil, &crashError{v: b.v, inst: inst, err: errGone}
	}
	bt := &batch{b: b, inst: inst, sig: sig, done: make(chan struct{})}
	zone := inst.Arena.HostZone()
	for _, t := range b.v.info.Inputs {
		x := in[t.Name]
		rest := x.Shape[1:]
		row := uint64(rest.ByteSize(x.DType))
		off, err := zone.Alloc(row * uint64(b.max))
		if err != nil {
			bt.free()
			inst.Unhold()
			return nil, apierr.Wrap(apierr.ArenaFull, err, "a batch of %d rows of input %s needs %d bytes (raise --plugin_arena_mb)", b.max, t.Name, row*uint64(b.max))
		}
		bt.offs = append(bt.offs, off)
		bt.rowLen = append(bt.rowLen, row)
		bt.shapes = append(bt.shapes, rest)
		bt.dtypes = append(bt.dtypes, x.DType)
	}
	return bt, nil
}

// closeLocked takes bt off the open list and sends it once its members
// have written their rows. b.mu is held.
func (b *batcher) closeLocked(bt *batch) {
	if bt.sent {
		return
	}
	bt.sent = true
	if b.open[bt.sig] == bt {
		delete(b.open, bt.sig)
	}
	b.inFlight.Add(1)
	go bt.dispatch()
}

// expire sends a batch whose delay has passed.
func (b *batcher) expire(bt *batch) {
	b.mu.Lock()
	b.closeLocked(bt)
	b.mu.Unlock()
}

// idle sends the open batches once the device has nothing in flight
// (max_queue_delay 0 gathers only what arrives while it is busy).
func (b *batcher) idle() {
	if b.delay > 0 {
		return
	}
	b.mu.Lock()
	for _, bt := range b.open {
		b.closeLocked(bt)
	}
	b.mu.Unlock()
}
