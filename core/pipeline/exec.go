package pipeline

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// maxDynamicShards is OVMS's bound on a dynamic demultiplexer's count.
const maxDynamicShards = 10000

// value is one tensor flowing between nodes. Its bytes alias a node's
// response (the plugin's arena) or the request, except gathered tensors,
// which are assembled on the heap.
type value struct {
	dtype device.DataType
	shape []int64
	data  []byte
	in    *tensor.Input // a request input passed on whole (no copy)
	// arena locates data in a plugin's arena (a model node's output, or
	// a shard of one); nil otherwise.
	arena *tensor.ArenaRef
}

// instance is one run of a node (one shard path).
type instance struct {
	outs map[string]value
	resp *tensor.Response
}

// nodeRun is a node's state in one request.
type nodeRun struct {
	done    chan struct{}
	mu      sync.Mutex
	inst    map[string]*instance // by shard path
	counts  map[string]int       // a demultiplexer's shard count per instance path
	paths   [][]int
	pending atomic.Int32 // consumer edges still to run
	once    sync.Once
}

// release returns the node's outputs to their plugins.
func (r *nodeRun) release() {
	r.once.Do(func() {
		for _, in := range r.inst {
			in.resp.Release()
		}
	})
}

// execution is one request through a graph.
type execution struct {
	g       *graph
	req     *tensor.Request
	runners []Runner // pinned model versions, by node
	runs    []*nodeRun
	cancel  context.CancelFunc
	errOnce sync.Once
	err     error
}

func pathKey(p []int) string {
	if len(p) == 0 {
		return ""
	}
	var b strings.Builder
	for _, i := range p {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('/')
	}
	return b.String()
}

func (x *execution) fail(err error) {
	x.errOnce.Do(func() {
		x.err = err
		x.cancel()
	})
}

// run serves one request: the pipeline's inputs are checked, the model
// versions pinned, every node started in its own goroutine (a node waits
// for the nodes it reads), and the response assembled from the nodes the
// pipeline's outputs come from. The response aliases node outputs until
// it is released; its release then calls after (nil: nothing more), which
// run does not call when it fails.
func (g *graph) run(ctx context.Context, models Models, req *tensor.Request, after func()) (*tensor.Response, error) {
	if err := tensor.ValidateCount(g.info.Inputs, len(req.Inputs)); err != nil {
		return nil, err
	}
	if err := g.validateInputs(req); err != nil {
		return nil, err
	}
	for _, name := range req.Outputs { // as a model checks them (Version.checkOutputs)
		if tensorOf(g.info.Outputs, name) == nil {
			return nil, apierr.Newf(apierr.InvalidMissingOutput, "Required output: %s", name)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	x := &execution{g: g, req: req, runners: make([]Runner, len(g.nodes)), runs: make([]*nodeRun, len(g.nodes)), cancel: cancel}
	releaseRunners := func() {
		for _, r := range x.runners {
			if r != nil {
				r.Release()
			}
		}
	}
	for i, nd := range g.nodes {
		if nd.kind == config.NodeModel {
			r, err := models.Acquire(ctx, nd.model, nd.version)
			if err != nil {
				releaseRunners()
				return nil, err
			}
			x.runners[i] = r
		}
		x.runs[i] = &nodeRun{done: make(chan struct{}), inst: map[string]*instance{}, counts: map[string]int{}}
		x.runs[i].pending.Store(int32(nd.consumers))
	}
	releaseAll := func() {
		for _, r := range x.runs {
			r.release()
		}
		releaseRunners()
	}
	if err := x.entry(); err != nil {
		releaseAll()
		return nil, err
	}
	close(x.runs[0].done)
	last := len(g.nodes) - 1
	for i := 1; i < last; i++ {
		go x.node(ctx, i)
	}
	for _, e := range g.exit().inputs {
		<-x.runs[e.src].done
	}
	if x.err != nil {
		// Wait for every node so nothing still uses what is released.
		for i := 1; i < last; i++ {
			<-x.runs[i].done
		}
		releaseAll()
		return nil, x.err
	}
	outs, err := x.outputs()
	// Nodes that feed no output have finished too: the response's
	// sources depend on everything connected.
	for i := 1; i < last; i++ {
		<-x.runs[i].done
	}
	if err == nil && x.err != nil {
		err = x.err
	}
	if err != nil {
		releaseAll()
		return nil, err
	}
	if after != nil {
		return tensor.NewResponse(g.name, 1, outs, func() { releaseAll(); after() }), nil
	}
	return tensor.NewResponse(g.name, 1, outs, releaseAll), nil
}

// validateInputs checks the request against the pipeline's inputs, as
// OVMS validates a DAG's request against its metadata: names, then (for
// inputs whose metadata a node gives) precision, shape and data size, on
// copies (each node validates, and converts, its own request again).
// Binary images sent to a numeric input are left to the node, which knows
// their layout.
func (g *graph) validateInputs(req *tensor.Request) error {
	var model []device.TensorInfo
	sub := &tensor.Request{API: req.API}
	for _, t := range g.info.Inputs {
		k := slices.IndexFunc(req.Inputs, func(in tensor.Input) bool { return in.Name == t.Name })
		if k < 0 {
			return apierr.Newf(apierr.InvalidMissingInput, "Required input: %s", t.Name)
		}
		in := req.Inputs[k]
		if t.DType == device.Invalid || (in.Strings != nil && t.DType != device.String) {
			continue
		}
		model = append(model, t)
		sub.Inputs = append(sub.Inputs, in)
	}
	if len(model) == 0 {
		return nil
	}
	return tensor.Validate(model, sub)
}

// entry makes the request's inputs the request node's outputs (split into
// shards when the pipeline demultiplexes).
func (x *execution) entry() error {
	nd, r := x.g.nodes[0], x.runs[0]
	in := &instance{outs: map[string]value{}}
	for i := range x.req.Inputs {
		t := &x.req.Inputs[i]
		in.outs[t.Name] = value{dtype: t.DType, shape: t.Shape, in: t}
	}
	r.inst[""] = in
	r.paths = [][]int{nil}
	if nd.demux == 0 {
		return nil
	}
	for name, v := range in.outs {
		data, err := materialize(v.in)
		if err != nil {
			return err
		}
		in.outs[name] = value{dtype: v.dtype, shape: v.shape, data: data}
	}
	n, err := shardCount(nd, in.outs)
	if err != nil {
		return err
	}
	r.counts[""] = n
	return nil
}

// materialize gives a request input's bytes (a copy unless they are one
// contiguous raw buffer).
func materialize(in *tensor.Input) ([]byte, error) {
	if in.Shm != nil {
		return nil, apierr.Newf(apierr.NotImplemented, "input %s: shared memory inputs cannot be demultiplexed or returned by a pipeline", in.Name)
	}
	if in.HasRaw && in.RawParts == nil {
		return in.Raw, nil
	}
	buf := make([]byte, in.ByteSize(in.DType))
	if err := in.WriteTo(buf, in.DType); err != nil {
		return nil, apierr.Wrap(apierr.InvalidContentSize, err, "input %s", in.Name)
	}
	return buf, nil
}

// shardCount checks a demultiplexer's outputs and returns their shared
// first dimension.
func shardCount(nd *node, outs map[string]value) (int, error) {
	// OVMS's order (Node::demultiplyOutputs): the shard limit, then per
	// tensor at least 3 dimensions and a first one equal to a fixed count.
	n := -1
	for name, v := range outs {
		if len(v.shape) > 0 && v.shape[0] > maxDynamicShards {
			return 0, apierr.Newf(apierr.PipelineTooLargeDimensionSizeToDemultiply, "node: %s; output: %s; Allowed: %d; Actual: %d", nd.name, name, maxDynamicShards, v.shape[0])
		}
		if len(v.shape) < 3 {
			return 0, apierr.Newf(apierr.PipelineWrongNumberOfDimensionsToDemultiply, "node: %s; output: %s; Must be at least 3; Actual: %d", nd.name, name, len(v.shape))
		}
		d := int(v.shape[0])
		switch {
		case nd.demux > 0 && d != nd.demux:
			return 0, apierr.Newf(apierr.PipelineWrongDimensionSizeToDemultiply, "node: %s; output: %s; Expected: %d; Actual: %d", nd.name, name, nd.demux, d)
		case n >= 0 && d != n:
			return 0, apierr.Newf(apierr.PipelineWrongDimensionSizeToDemultiply, "node: %s; output: %s; Expected: %d; Actual: %d", nd.name, name, n, d)
		}
		n = d
	}
	if n <= 0 {
		return 0, apierr.Newf(apierr.PipelineDemultiplexerNoResults, "node: %s", nd.name)
	}
	return n, nil
}

// node runs every instance of node i once the nodes it reads are done.
func (x *execution) node(ctx context.Context, i int) {
	nd, r := x.g.nodes[i], x.runs[i]
	defer close(r.done)
	var srcs []int
	for _, e := range nd.inputs {
		if !slices.Contains(srcs, e.src) {
			srcs = append(srcs, e.src)
			<-x.runs[e.src].done
		}
	}
	defer func() {
		// This node's reads are over: a source whose consumers are all
		// done gives its outputs back (unless the response uses them).
		for _, e := range nd.inputs {
			src := x.runs[e.src]
			if src.pending.Add(-1) == 0 && !x.g.nodes[e.src].toExit {
				src.release()
			}
		}
	}()
	if err := ctx.Err(); err != nil {
		x.fail(apierr.Wrap(apierr.InternalError, err, "pipeline %s: node %s not run: %v", x.g.name, nd.name, err))
		return
	}
	r.paths = x.pathsOf(nd)
	if len(r.paths) == 1 { // no shards: no further goroutine
		if err := x.instance(ctx, i, r.paths[0]); err != nil {
			x.fail(err)
		}
		return
	}
	var wg sync.WaitGroup
	for _, p := range r.paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.instance(ctx, i, p); err != nil {
				x.fail(err)
			}
		}()
	}
	wg.Wait()
}

// pathsOf lists the shard paths a node runs at.
func (x *execution) pathsOf(nd *node) [][]int {
	if len(nd.stack) == 0 {
		return [][]int{nil}
	}
	top := nd.stack[len(nd.stack)-1]
	d := x.runs[top]
	var out [][]int
	for _, p := range d.paths {
		for k := range d.counts[pathKey(p)] {
			out = append(out, append(slices.Clone(p), k))
		}
	}
	return out
}

// instance runs node i at shard path p.
func (x *execution) instance(ctx context.Context, i int, p []int) error {
	nd, r := x.g.nodes[i], x.runs[i]
	req := &tensor.Request{API: x.req.API, Inputs: make([]tensor.Input, 0, len(nd.inputs)), Outputs: nd.outputs}
	for _, e := range nd.inputs {
		v, err := x.read(e, nd, p)
		if err != nil {
			return err
		}
		in := tensor.Input{Name: e.input, DType: v.dtype, Shape: v.shape, Raw: v.data, HasRaw: true, Arena: v.arena}
		switch {
		case v.in != nil:
			in = *v.in
			in.Name = e.input
		case v.dtype == device.String:
			s, err := tensor.SplitStrings(v.data, e.input)
			if err != nil {
				return apierr.Wrap(apierr.InternalError, err, "%v", err)
			}
			in.Raw, in.HasRaw, in.Strings = nil, false, s
		}
		req.Inputs = append(req.Inputs, in)
	}
	var resp *tensor.Response
	var err error
	if nd.custom != nil {
		resp, err = nd.custom.Infer(ctx, req)
	} else {
		resp, err = x.runners[i].Infer(ctx, req)
	}
	if err != nil {
		return err
	}
	in := &instance{outs: make(map[string]value, len(resp.Outputs)), resp: resp}
	for _, o := range resp.Outputs {
		v := value{dtype: o.DType, shape: o.Shape, data: o.Data}
		if o.Arena.Owner != nil {
			v.arena = &tensor.ArenaRef{Owner: o.Arena.Owner, Offset: o.Arena.Offset}
		}
		in.outs[o.Name] = v
	}
	// Consumers may name an output by one of its aliases (an IR tensor's
	// further names); the answer uses its name.
	for _, name := range nd.outputs {
		if _, ok := in.outs[name]; !ok {
			if t := tensorOf(nd.info.Outputs, name); t != nil {
				if v, ok := in.outs[t.Name]; ok {
					in.outs[name] = v
				}
			}
		}
	}
	r.mu.Lock()
	r.inst[pathKey(p)] = in
	r.mu.Unlock()
	for _, name := range nd.outputs {
		if _, ok := in.outs[name]; !ok {
			return apierr.Newf(apierr.InternalError, "node %s did not return output %s", nd.name, name)
		}
	}
	if nd.demux != 0 {
		outs := make(map[string]value, len(nd.outputs))
		for _, name := range nd.outputs {
			outs[name] = in.outs[name]
		}
		n, err := shardCount(nd, outs)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.counts[pathKey(p)] = n
		r.mu.Unlock()
	}
	return nil
}

// read gives the value of edge e for consumer nd at shard path p.
func (x *execution) read(e edge, nd *node, p []int) (value, error) {
	src := x.g.nodes[e.src]
	if len(src.out) > len(nd.stack) {
		return x.gather(e.src, e.item, p, nd)
	}
	return x.valueAt(e.src, e.item, p[:len(src.out)])
}

// valueAt is node s's item at path q (len(q) == len(s.out)): a shard of
// a demultiplexer's output, or an output as it is.
func (x *execution) valueAt(s int, item string, q []int) (value, error) {
	src := x.g.nodes[s]
	ip := q
	if src.demux != 0 {
		ip = q[:len(q)-1]
	}
	in := x.runs[s].inst[pathKey(ip)]
	if in == nil {
		return value{}, apierr.Newf(apierr.InternalError, "node %s has no result for shard %v", src.name, ip)
	}
	v := in.outs[item]
	if src.demux == 0 {
		return v, nil
	}
	return shard(v, x.runs[s].counts[pathKey(ip)], q[len(q)-1])
}

// shard is the k-th of n slices of v along its first dimension.
func shard(v value, n, k int) (value, error) {
	out := value{dtype: v.dtype, shape: slices.Clone(v.shape[1:])}
	if v.dtype != device.String {
		size := len(v.data) / n
		out.data = v.data[k*size : (k+1)*size]
		if v.arena != nil {
			out.arena = &tensor.ArenaRef{Owner: v.arena.Owner, Offset: v.arena.Offset + uint64(k*size)}
		}
		return out, nil
	}
	elems, err := tensor.SplitStrings(v.data, "shard")
	if err != nil {
		return value{}, apierr.Wrap(apierr.InternalError, err, "%v", err)
	}
	per := len(elems) / n
	start, end := 0, 0
	off := 0
	for j := range elems {
		if j == k*per {
			start = off
		}
		off += 4 + len(elems[j])
		if j == (k+1)*per-1 {
			end = off
		}
	}
	if per == 0 {
		start, end = 0, 0
	}
	out.data = v.data[start:end]
	return out, nil
}

// gather stacks the shards of the levels between the consumer's and the
// source's into one tensor with a leading dimension per level.
func (x *execution) gather(s int, item string, p []int, consumer *node) (value, error) {
	src := x.g.nodes[s]
	if len(p) == len(src.out) {
		return x.valueAt(s, item, p)
	}
	d := src.out[len(p)]
	n := x.runs[d].counts[pathKey(p)]
	parts := make([]value, n)
	for k := range n {
		v, err := x.gather(s, item, append(slices.Clone(p), k), consumer)
		if err != nil {
			return value{}, err
		}
		parts[k] = v
	}
	return concat(parts, x.g.nodes[d].name)
}

// concat stacks same-shaped shards along a new first dimension (a copy).
func concat(parts []value, demux string) (value, error) {
	if len(parts) == 0 {
		return value{}, apierr.Newf(apierr.PipelineDemultiplexerNoResults, "node: %s", demux)
	}
	first := parts[0]
	size := 0
	for _, v := range parts {
		if v.in != nil {
			return value{}, apierr.Newf(apierr.InternalError, "a request input cannot be gathered")
		}
		if v.dtype != first.dtype || !slices.Equal(v.shape, first.shape) {
			return value{}, apierr.Newf(apierr.PipelineInconsistentShardDimensions, "demultiplexer: %s", demux)
		}
		size += len(v.data)
	}
	data := make([]byte, 0, size)
	for _, v := range parts {
		data = append(data, v.data...)
	}
	return value{dtype: first.dtype, shape: append([]int64{int64(len(parts))}, first.shape...), data: data}, nil
}

// outputs builds the response's tensors from the response node's edges.
func (x *execution) outputs() ([]tensor.Output, error) {
	exit := x.g.exit()
	out := make([]tensor.Output, 0, len(exit.inputs))
	for _, e := range exit.inputs {
		if len(x.req.Outputs) > 0 && !slices.Contains(x.req.Outputs, e.input) {
			continue
		}
		v, err := x.read(e, exit, nil)
		if err != nil {
			return nil, err
		}
		if v.in != nil {
			data, err := materialize(v.in)
			if err != nil {
				return nil, err
			}
			v.data = data
		}
		out = append(out, tensor.Output{Name: e.input, DType: v.dtype, Shape: v.shape, Data: v.data, Length: uint64(len(v.data))})
	}
	return out, nil
}
