package pipeline

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

func runPipeline(t *testing.T, models *fakeModels, p config.Pipeline, opener NodeOpener, inputs ...tensor.Input) (*tensor.Response, error) {
	t.Helper()
	g, err := validate(context.Background(), p, models, opener)
	if err != nil {
		t.Fatal(err)
	}
	return g.run(context.Background(), models, &tensor.Request{API: tensor.KServe, Inputs: inputs}, nil)
}

func output(t *testing.T, r *tensor.Response, name string) ([]int64, []float32) {
	t.Helper()
	for _, o := range r.Outputs {
		if o.Name == name {
			return o.Shape, f32(t, tensor.Input{Raw: o.Data, HasRaw: true})
		}
	}
	t.Fatalf("no output %s in %+v", name, r.Outputs)
	return nil, nil
}

func TestLinearPipeline(t *testing.T) {
	models := testModels(t)
	resp, err := runPipeline(t, models, basePipeline(), nil, input("in", []int64{1, 3}, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	shape, v := output(t, resp, "out")
	if !slices.Equal(shape, []int64{1, 3}) || !slices.Equal(v, []float32{4, 6, 8}) {
		t.Errorf("out %v %v", shape, v)
	}
	if resp.Model != "p" || resp.Version != 1 {
		t.Errorf("response of %s %d", resp.Model, resp.Version)
	}
	// a's response went back once b was done; b's is the response's.
	if models.leased.Load() != 1 || models.pinned.Load() != 2 {
		t.Errorf("before release: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
	resp.Release()
	if models.leased.Load() != 0 || models.pinned.Load() != 0 {
		t.Errorf("after release: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
}

// demuxGather is request -> d (spread, demultiply 3) -> i (inc, per shard)
// -> g (dbl, gathers d) -> response: the gathered result is (3,1,3).
func demuxGather(count int) config.Pipeline {
	d := dl("d", "spread", conn("x", "request", "in"))
	d.DemultiplyCount = count
	i := dl("i", "inc", conn("x", "d", "d_out"))
	g := dl("g", "inc", conn("x", "i", "i_out"))
	g.GatherFrom = "d"
	return config.Pipeline{Name: "p", Inputs: []string{"in"}, Nodes: []config.Node{d, i, g},
		Outputs: []config.Connection{conn("out", "g", "g_out")}}
}

func TestDemultiplexAndGather(t *testing.T) {
	models := testModels(t)
	// g gathers (3,1,3) but inc takes (1,3): a shape error at validation.
	_, err := validate(context.Background(), demuxGather(3), models, nil)
	if err == nil {
		t.Fatal("gathered (3,1,3) into a (1,3) input accepted")
	}
	// Gather into the response instead: d -> i -> response (implicit).
	p := demuxGather(3)
	p.Nodes = p.Nodes[:2]
	p.Outputs = []config.Connection{conn("out", "i", "i_out")}
	resp, err := runPipeline(t, models, p, nil, input("in", []int64{1, 3}, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	shape, v := output(t, resp, "out")
	want := []float32{2, 3, 4, 3, 5, 7, 4, 7, 10}
	if !slices.Equal(shape, []int64{3, 1, 3}) || !slices.Equal(v, want) {
		t.Errorf("out %v %v, want (3,1,3) %v", shape, v, want)
	}
	resp.Release()
	if models.leased.Load() != 0 || models.pinned.Load() != 0 {
		t.Errorf("after release: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
}

func TestExplicitGatherThenModel(t *testing.T) {
	models := testModels(t)
	// d (spread 3) -> i (inc per shard, (1,3)) -> g gathers d: (3,1,3) into
	// a model taking (3,1,3).
	models.m["sum"] = &fakeModel{info: &device.ModelInfo{Inputs: []device.TensorInfo{ti("x", 3, 1, 3)}, Outputs: []device.TensorInfo{ti("y", 1, 3)}},
		fn: func(_ context.Context, m map[string]tensor.Input) (map[string]tensor.Output, error) {
			x := f32(t, m["x"])
			y := make([]float32, 3)
			for k, v := range x {
				y[k%3] += v
			}
			return map[string]tensor.Output{"y": {DType: device.Float32, Shape: []int64{1, 3}, Data: f32bytes(y)}}, nil
		}}
	p := demuxGather(3)
	p.Nodes[2].ModelName = "sum"
	resp, err := runPipeline(t, models, p, nil, input("in", []int64{1, 3}, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	shape, v := output(t, resp, "out")
	// shards x*1+1, x*2+1, x*3+1 summed: 6x+3.
	if !slices.Equal(shape, []int64{1, 3}) || !slices.Equal(v, []float32{9, 15, 21}) {
		t.Errorf("out %v %v", shape, v)
	}
	resp.Release()
}

func TestDynamicDemultiplex(t *testing.T) {
	models := testModels(t)
	p := config.Pipeline{Name: "p", Inputs: []string{"in"},
		Nodes:   []config.Node{dl("d", "spreadn", conn("x", "request", "in")), dl("i", "dbl", conn("x", "d", "d_out"))},
		Outputs: []config.Connection{conn("out", "i", "i_out")}}
	p.Nodes[0].DemultiplyCount = -1
	for _, n := range []int{1, 2, 5} {
		resp, err := runPipeline(t, models, p, nil, input("in", []int64{1, 3}, float32(n), 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		shape, v := output(t, resp, "out")
		if !slices.Equal(shape, []int64{int64(n), 1, 3}) || v[len(v)-1] != float32(2*n) {
			t.Errorf("n=%d: out %v %v", n, shape, v)
		}
		resp.Release()
	}
	// Zero shards: OVMS's PIPELINE_DEMULTIPLEXER_NO_RESULTS.
	_, err := runPipeline(t, models, p, nil, input("in", []int64{1, 3}, 0, 0, 1))
	if !apierr.Is(err, apierr.PipelineDemultiplexerNoResults) {
		t.Errorf("no shards: %v", err)
	}
	// A fixed count that the tensor does not have (its first dimension is
	// dynamic, so validation only warns in OVMS).
	p.Nodes[0].DemultiplyCount = 4
	_, err = runPipeline(t, models, p, nil, input("in", []int64{1, 3}, 2, 0, 1))
	if !apierr.Is(err, apierr.PipelineWrongDimensionSizeToDemultiply) {
		t.Errorf("count mismatch: %v", err)
	}
	if models.leased.Load() != 0 || models.pinned.Load() != 0 {
		t.Errorf("after failures: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
}

func TestPipelineLevelDemultiplex(t *testing.T) {
	models := testModels(t)
	p := basePipeline()
	p.DemultiplyCount = -1
	g, err := validate(context.Background(), p, models, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.info.Inputs[0].Shape; !slices.Equal(s, []int64{-1, 1, 3}) {
		t.Errorf("input shape %v", s)
	}
	resp, err := g.run(context.Background(), models, &tensor.Request{Inputs: []tensor.Input{input("in", []int64{2, 1, 3}, 1, 2, 3, 4, 5, 6)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shape, v := output(t, resp, "out")
	if !slices.Equal(shape, []int64{2, 1, 3}) || !slices.Equal(v, []float32{4, 6, 8, 10, 12, 14}) {
		t.Errorf("out %v %v", shape, v)
	}
	resp.Release()
}

func TestBranchesRunConcurrently(t *testing.T) {
	models := testModels(t)
	// Two branches whose models each wait for the other to start: the
	// request completes only if they run at the same time.
	var started sync.WaitGroup
	started.Add(2)
	barrier := func(base *fakeModel) *fakeModel {
		return &fakeModel{info: base.info, fn: func(ctx context.Context, m map[string]tensor.Input) (map[string]tensor.Output, error) {
			started.Done()
			done := make(chan struct{})
			go func() { started.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				return nil, apierr.Newf(apierr.InternalError, "the other branch never started")
			}
			return base.fn(ctx, m)
		}}
	}
	models.m["left"] = barrier(models.m["inc"])
	models.m["right"] = barrier(models.m["dbl"])
	p := config.Pipeline{Name: "p", Inputs: []string{"in"},
		Nodes: []config.Node{dl("l", "left", conn("x", "request", "in")), dl("r", "right", conn("x", "request", "in")),
			dl("j", "two", conn("x1", "l", "l_out"), conn("x2", "r", "r_out"))},
		Outputs: []config.Connection{conn("out", "j", "j_out")}}
	resp, err := runPipeline(t, models, p, nil, input("in", []int64{1, 3}, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, v := output(t, resp, "out"); !slices.Equal(v, []float32{4, 7, 10}) {
		t.Errorf("out %v", v)
	}
	resp.Release()
}

func TestRequestInputChecks(t *testing.T) {
	models := testModels(t)
	g, err := validate(context.Background(), basePipeline(), models, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.run(context.Background(), models, &tensor.Request{Inputs: []tensor.Input{input("in", []int64{1, 3}, 1, 2, 3), input("more", []int64{1}, 1)}}, nil)
	if !apierr.Is(err, apierr.InvalidNoOfInputs) {
		t.Errorf("two inputs: %v", err)
	}
	_, err = g.run(context.Background(), models, &tensor.Request{Inputs: []tensor.Input{input("other", []int64{1, 3}, 1, 2, 3)}}, nil)
	if !apierr.Is(err, apierr.InvalidMissingInput) {
		t.Errorf("wrong name: %v", err)
	}
	// Shapes are checked against the pipeline's inputs, named as the
	// pipeline names them.
	_, err = g.run(context.Background(), models, &tensor.Request{Inputs: []tensor.Input{input("in", []int64{1, 4}, 1, 2, 3, 4)}}, nil)
	if !apierr.Is(err, apierr.InvalidShape) || !strings.HasSuffix(err.Error(), "Expected: (1,3); Actual: (1,4); input name: in") {
		t.Errorf("wrong shape: %v", err)
	}
	if models.leased.Load() != 0 || models.pinned.Load() != 0 {
		t.Errorf("after failures: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
}

// fakeOpener opens in-process custom nodes (the custom node host's
// contract) that negate their input.
type fakeOpener struct{ closed int }

type negNode struct{ o *fakeOpener }

func (n *negNode) Info() *device.ModelInfo {
	return &device.ModelInfo{Inputs: []device.TensorInfo{ti("x", 1, 3)}, Outputs: []device.TensorInfo{ti("neg", 1, 3)}}
}

func (n *negNode) Infer(_ context.Context, req *tensor.Request) (*tensor.Response, error) {
	var x []float32
	for _, in := range req.Inputs {
		b := in.Raw
		x = make([]float32, len(b)/4)
		for i := range x {
			x[i] = -f32bytesToF(b[4*i:])
		}
	}
	return tensor.NewResponse("", 0, []tensor.Output{{Name: "neg", DType: device.Float32, Shape: []int64{1, 3}, Data: f32bytes(x)}}, nil), nil
}

func (n *negNode) Close() { n.o.closed++ }

func (o *fakeOpener) Open(_ context.Context, library, _ string, _ map[string]string) (Node, error) {
	if library != "neg" {
		return nil, apierr.Newf(apierr.InternalError, "no library %s", library)
	}
	return &negNode{o: o}, nil
}

func f32bytesToF(b []byte) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

func TestCustomNode(t *testing.T) {
	models := testModels(t)
	p := basePipeline()
	p.Nodes[1] = config.Node{Name: "b", Kind: config.NodeCustom, LibraryName: "neg", Inputs: []config.Connection{conn("x", "a", "a_out")},
		Outputs: []config.OutputAlias{{DataItem: "neg", Alias: "b_out"}}}
	o := &fakeOpener{}
	resp, err := runPipeline(t, models, p, o, input("in", []int64{1, 3}, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, v := output(t, resp, "out"); !slices.Equal(v, []float32{-2, -3, -4}) {
		t.Errorf("out %v", v)
	}
	resp.Release()
	p.Nodes[1].LibraryName = "other"
	if _, err := validate(context.Background(), p, models, o); err == nil {
		t.Error("a missing library validated")
	}
}

func TestNestedDemultiplexers(t *testing.T) {
	models := testModels(t)
	d1 := dl("d1", "spread", conn("x", "request", "in"))
	d1.DemultiplyCount = 3
	d2 := dl("d2", "spread", conn("x", "d1", "d1_out"))
	d2.DemultiplyCount = 3
	i := dl("i", "inc", conn("x", "d2", "d2_out"))
	p := config.Pipeline{Name: "p", Inputs: []string{"in"}, Nodes: []config.Node{d1, d2, i},
		Outputs: []config.Connection{conn("out", "i", "i_out")}}
	g, err := validate(context.Background(), p, models, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.info.Outputs[0].Shape; !slices.Equal(s, []int64{3, 3, 1, 3}) {
		t.Errorf("metadata shape %v", s)
	}
	resp, err := g.run(context.Background(), models, &tensor.Request{Inputs: []tensor.Input{input("in", []int64{1, 3}, 1, 1, 1)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shape, v := output(t, resp, "out")
	if !slices.Equal(shape, []int64{3, 3, 1, 3}) || len(v) != 27 || v[0] != 2 || v[26] != 10 || v[12] != 5 {
		t.Errorf("out %v %v", shape, v)
	}
	resp.Release()
	if models.leased.Load() != 0 || models.pinned.Load() != 0 {
		t.Errorf("after release: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
}

// TestUnknownRequestedOutput: a request naming an output the pipeline
// does not have fails as a model's does (docs/compatibility.md: 400 /
// INVALID_ARGUMENT "Missing output with specific name"), before any
// node runs, instead of answering without it.
func TestUnknownRequestedOutput(t *testing.T) {
	models := testModels(t)
	g, err := validate(context.Background(), basePipeline(), models, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &tensor.Request{API: tensor.KServe, Inputs: []tensor.Input{input("in", []int64{1, 3}, 1, 2, 3)}, Outputs: []string{"out", "nope"}}
	resp, err := g.run(context.Background(), models, req, nil)
	if !apierr.Is(err, apierr.InvalidMissingOutput) {
		resp.Release()
		t.Fatalf("got %v, want INVALID_MISSING_OUTPUT", err)
	}
	if !strings.Contains(err.Error(), "Required output: nope") {
		t.Errorf("message %q", err)
	}
	if models.leased.Load() != 0 || models.pinned.Load() != 0 {
		t.Errorf("after the refusal: %d leased, %d pinned", models.leased.Load(), models.pinned.Load())
	}
	req.Outputs = []string{"out"}
	resp, err = g.run(context.Background(), models, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "out" {
		t.Errorf("outputs %+v", resp.Outputs)
	}
	resp.Release()
}
