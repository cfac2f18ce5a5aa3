package pipeline

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

func scale(k float32) func([]float32) []float32 {
	return func(v []float32) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = x * k
		}
		return out
	}
}

func add(k float32) func([]float32) []float32 {
	return func(v []float32) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = x + k
		}
		return out
	}
}

// testModels are the models the tests' pipelines use.
func testModels(t *testing.T) *fakeModels {
	spreadFn := func(copies func(x []float32) int) func(context.Context, map[string]tensor.Input) (map[string]tensor.Output, error) {
		return func(_ context.Context, m map[string]tensor.Input) (map[string]tensor.Output, error) {
			x := f32(t, m["x"])
			n := copies(x)
			var y []float32
			for k := range n {
				y = append(y, scale(float32(k+1))(x)...)
			}
			return map[string]tensor.Output{"y": {DType: device.Float32, Shape: []int64{int64(n), 1, int64(len(x))}, Data: f32bytes(y)}}, nil
		}
	}
	two := &fakeModel{info: &device.ModelInfo{Inputs: []device.TensorInfo{ti("x1", 1, 3), ti("x2", 1, 3)}, Outputs: []device.TensorInfo{ti("y", 1, 3)}},
		fn: func(_ context.Context, m map[string]tensor.Input) (map[string]tensor.Output, error) {
			a, b := f32(t, m["x1"]), f32(t, m["x2"])
			for i := range a {
				a[i] += b[i]
			}
			return map[string]tensor.Output{"y": {DType: device.Float32, Shape: []int64{1, 3}, Data: f32bytes(a)}}, nil
		}}
	intm := elementwise(t, ti("x", 1, 3), ti("y", 1, 3), add(0))
	intm.info.Inputs[0].DType = device.Int32
	auto := elementwise(t, ti("x", 1, 3), ti("y", 1, 3), add(0))
	auto.dynamic = true
	stateful := elementwise(t, ti("x", 1, 3), ti("y", 1, 3), add(0))
	stateful.stateful = true
	return &fakeModels{m: map[string]*fakeModel{
		"inc":   elementwise(t, ti("x", 1, 3), ti("y", 1, 3), add(1)),
		"dbl":   elementwise(t, ti("x", 1, 3), ti("y", 1, 3), scale(2)),
		"wide":  elementwise(t, ti("x", 2, 3), ti("y", 2, 3), add(0)),
		"wide4": elementwise(t, ti("x", 1, 4), ti("y", 1, 4), add(0)),
		"flat":  elementwise(t, ti("x", 1, 3), ti("y", 3), add(0)),
		"spread": {info: &device.ModelInfo{Inputs: []device.TensorInfo{ti("x", 1, 3)}, Outputs: []device.TensorInfo{ti("y", 3, 1, 3)}},
			fn: spreadFn(func([]float32) int { return 3 })},
		"spreadn": {info: &device.ModelInfo{Inputs: []device.TensorInfo{ti("x", 1, 3)}, Outputs: []device.TensorInfo{ti("y", -1, 1, 3)}},
			fn: spreadFn(func(x []float32) int { return int(x[0]) })},
		"two": two, "intm": intm, "auto": auto, "stateful": stateful,
	}}
}

func conn(name, node, item string) config.Connection {
	return config.Connection{Name: name, Node: node, Item: item}
}

func dl(name, model string, inputs ...config.Connection) config.Node {
	return config.Node{Name: name, Kind: config.NodeModel, ModelName: model, Inputs: inputs,
		Outputs: []config.OutputAlias{{DataItem: "y", Alias: name + "_out"}}}
}

// basePipeline is request -> a (inc) -> b (dbl) -> response.
func basePipeline() config.Pipeline {
	return config.Pipeline{Name: "p", Inputs: []string{"in"},
		Nodes: []config.Node{
			dl("a", "inc", conn("x", "request", "in")),
			dl("b", "dbl", conn("x", "a", "a_out")),
		},
		Outputs: []config.Connection{conn("out", "b", "b_out")}}
}

func TestValidationErrors(t *testing.T) {
	models := testModels(t)
	cases := []struct {
		name string
		edit func(p *config.Pipeline)
		want Status
	}{
		{"cycle", func(p *config.Pipeline) {
			p.Nodes[0].Inputs = []config.Connection{conn("x", "b", "b_out")}
		}, StatusCycleFound},
		{"multiple entry nodes", func(p *config.Pipeline) {
			p.Nodes = append(p.Nodes, dl("request", "inc", conn("x", "a", "a_out")))
		}, StatusMultipleEntryNodes},
		{"multiple exit nodes", func(p *config.Pipeline) {
			p.Nodes = append(p.Nodes, dl("response", "inc", conn("x", "a", "a_out")))
		}, StatusMultipleExitNodes},
		{"missing entry", func(p *config.Pipeline) { p.Inputs = nil }, StatusMissingEntryOrExit},
		{"missing exit", func(p *config.Pipeline) { p.Outputs = nil }, StatusMissingEntryOrExit},
		{"unconnected node", func(p *config.Pipeline) {
			p.Nodes = append(p.Nodes, dl("c", "inc", conn("x", "request", "in")))
		}, StatusUnconnectedNodes},
		{"missing node", func(p *config.Pipeline) { p.Nodes[1].Inputs[0].Node = "zz" }, StatusMissingNode},
		{"missing model", func(p *config.Pipeline) { p.Nodes[0].ModelName = "nope" }, StatusMissingModel},
		{"missing data source", func(p *config.Pipeline) { p.Nodes[1].Inputs[0].Item = "nope" }, StatusMissingDataSource},
		{"missing pipeline input", func(p *config.Pipeline) { p.Nodes[0].Inputs[0].Item = "nope" }, StatusMissingDataSource},
		{"missing model output", func(p *config.Pipeline) { p.Nodes[0].Outputs[0].DataItem = "nope" }, StatusMissingModelOutput},
		{"missing model input", func(p *config.Pipeline) {
			p.Nodes[1].Inputs = append(p.Nodes[1].Inputs, conn("nope", "request", "in"))
		}, StatusMissingModelInput},
		{"not all inputs connected", func(p *config.Pipeline) {
			p.Nodes[1] = dl("b", "two", conn("x1", "a", "a_out"))
		}, StatusNotAllInputsConnected},
		{"input with several sources", func(p *config.Pipeline) {
			p.Nodes[1].Inputs = append(p.Nodes[1].Inputs, conn("x", "request", "in"))
		}, StatusInputMultipleSources},
		{"exit used as dependency", func(p *config.Pipeline) { p.Nodes[1].Inputs[0].Node = "response" }, StatusExitUsedAsDependency},
		{"duplicate node names", func(p *config.Pipeline) {
			p.Nodes = append(p.Nodes, dl("a", "inc", conn("x", "request", "in")))
		}, StatusNodeNameDuplicate},
		{"demultiplexer batch > 1", func(p *config.Pipeline) {
			p.Nodes[0] = dl("a", "spread", conn("x", "request", "in"))
			p.Nodes[0].DemultiplyCount = 3
			p.Nodes[1] = dl("b", "wide", conn("x", "a", "a_out"))
		}, StatusDemultiplexerBatch},
		{"gather from non-demultiplexer", func(p *config.Pipeline) { p.Nodes[1].GatherFrom = "a" }, StatusGatherFromNotDemultiplexer},
		{"gather from entry", func(p *config.Pipeline) { p.Nodes[1].GatherFrom = "request" }, StatusGatherFromEntry},
		{"gather from missing node", func(p *config.Pipeline) { p.Nodes[1].GatherFrom = "zz" }, StatusGatherFromMissingNode},
		{"wrong demultiplexer/gather nesting", func(p *config.Pipeline) {
			// d1 -> d2 -> g gathers d1 while d2 is still open.
			d1 := dl("d1", "spread", conn("x", "request", "in"))
			d1.DemultiplyCount = 3
			d2 := dl("d2", "spread", conn("x", "d1", "d1_out"))
			d2.DemultiplyCount = 3
			g := dl("g", "inc", conn("x", "d2", "d2_out"))
			g.GatherFrom = "d1"
			p.Nodes = []config.Node{d1, d2, g}
			p.Outputs = []config.Connection{conn("out", "g", "g_out")}
		}, StatusWrongDemuxGatherOrder},
		{"shape mismatch", func(p *config.Pipeline) { p.Nodes[1].ModelName = "wide4" }, StatusInvalidShape},
		{"precision mismatch", func(p *config.Pipeline) { p.Nodes[1].ModelName = "intm" }, StatusInvalidPrecision},
		{"auto shape model", func(p *config.Pipeline) { p.Nodes[1].ModelName = "auto" }, StatusDynamicParametersOnSubscribed},
		{"stateful model", func(p *config.Pipeline) { p.Nodes[1].ModelName = "stateful" }, StatusStatefulOnSubscribed},
		{"not enough dimensions to demultiply", func(p *config.Pipeline) {
			p.Nodes[0] = dl("a", "flat", conn("x", "request", "in"))
			p.Nodes[0].DemultiplyCount = 3
		}, StatusNotEnoughDimsToDemultiply},
		{"demultiply count against a static first dimension", func(p *config.Pipeline) {
			p.Nodes[0] = dl("a", "spread", conn("x", "request", "in"))
			p.Nodes[0].DemultiplyCount = 4
		}, StatusDemultiplyCountMismatch},
		{"ambiguous input metadata", func(p *config.Pipeline) {
			p.Nodes = append(p.Nodes, dl("c", "wide4", conn("x", "request", "in")))
			p.Outputs = append(p.Outputs, conn("out2", "c", "c_out"))
		}, StatusAmbiguousInputMetadata},
		{"a dynamic demultiplexer beside another demultiplexer", func(p *config.Pipeline) {
			p.DemultiplyCount = -1
			p.Nodes[0].DemultiplyCount = 3
		}, StatusMultipleDynamicDemultiplexers},
		{"custom node without its library", func(p *config.Pipeline) {
			p.Nodes[1] = config.Node{Name: "b", Kind: config.NodeCustom, LibraryName: "lib", Inputs: []config.Connection{conn("x", "a", "a_out")},
				Outputs: []config.OutputAlias{{DataItem: "y", Alias: "b_out"}}}
		}, StatusInvalidNodeLibrary},
	}
	if _, err := validate(context.Background(), basePipeline(), models, nil); err != nil {
		t.Fatalf("the base pipeline: %v", err)
	}
	seen := map[Status]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePipeline()
			c.edit(&p)
			_, err := validate(context.Background(), p, models, nil)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Status != c.want {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			seen[c.want] = true
		})
	}
	if len(seen) < 25 {
		t.Errorf("only %d distinct statuses covered", len(seen))
	}
}

func TestMetadataFromGraph(t *testing.T) {
	p := basePipeline()
	p.Nodes[0] = dl("a", "spreadn", conn("x", "request", "in"))
	p.Nodes[0].DemultiplyCount = -1
	p.Outputs = append(p.Outputs, conn("raw", "a", "a_out"))
	g, err := validate(context.Background(), p, testModels(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := func(ts []device.TensorInfo) [][]int64 {
		var out [][]int64
		for _, x := range ts {
			out = append(out, x.Shape)
		}
		return out
	}
	// Implicit gather at the response adds a dynamic leading dimension.
	if in := got(g.info.Inputs); !slices.EqualFunc(in, [][]int64{{1, 3}}, slices.Equal) {
		t.Errorf("inputs %v", in)
	}
	if out := got(g.info.Outputs); !slices.EqualFunc(out, [][]int64{{-1, 1, 3}, {-1, 1, 3}}, slices.Equal) || g.info.Outputs[0].Name != "out" || g.info.Outputs[1].Name != "raw" {
		t.Errorf("outputs %+v", g.info.Outputs)
	}
}
