package pipeline

import (
	"errors"
	"testing"

	"github.com/ovmsgo/ovms/core/config"
)

// TestCheckOffline: the offline check (ovms validate) finds the errors
// that need no model metadata, with OVMS's texts, and passes definitions
// whose tensors it cannot know.
func TestCheckOffline(t *testing.T) {
	models := []config.Model{{Name: "inc"}, {Name: "dbl"}, {Name: "auto", Shape: "auto"}, {Name: "rnn", Stateful: true}}
	libs := []config.NodeLibrary{{Name: "neg", BasePath: "/x"}}
	if err := Check(basePipeline(), models, libs); err != nil {
		t.Fatalf("the base pipeline: %v", err)
	}
	custom := func(p *config.Pipeline, lib string) {
		p.Nodes[1] = config.Node{Name: "b", Kind: config.NodeCustom, LibraryName: lib, Inputs: []config.Connection{conn("x", "a", "a_out")},
			Outputs: []config.OutputAlias{{DataItem: "neg", Alias: "b_out"}}}
	}
	ok := basePipeline()
	custom(&ok, "neg")
	if err := Check(ok, models, libs); err != nil {
		t.Errorf("a custom node of a configured library: %v", err)
	}
	cases := []struct {
		name string
		edit func(p *config.Pipeline)
		want Status
	}{
		{"cycle", func(p *config.Pipeline) { p.Nodes[0].Inputs = []config.Connection{conn("x", "b", "b_out")} }, StatusCycleFound},
		{"missing model", func(p *config.Pipeline) { p.Nodes[1].ModelName = "nope" }, StatusMissingModel},
		{"missing library", func(p *config.Pipeline) { custom(p, "nolib") }, StatusInvalidNodeLibrary},
		{"missing node", func(p *config.Pipeline) { p.Nodes[1].Inputs = []config.Connection{conn("x", "zz", "a_out")} }, StatusMissingNode},
		{"missing data source", func(p *config.Pipeline) { p.Nodes[1].Inputs = []config.Connection{conn("x", "a", "zz")} }, StatusMissingDataSource},
		{"two sources", func(p *config.Pipeline) {
			p.Nodes[1].Inputs = append(p.Nodes[1].Inputs, conn("x", "request", "in"))
		}, StatusInputMultipleSources},
		{"unconnected", func(p *config.Pipeline) { p.Nodes = append(p.Nodes, dl("c", "inc", conn("x", "a", "a_out"))) }, StatusUnconnectedNodes},
		{"gather from a node that does not demultiply", func(p *config.Pipeline) { p.Nodes[1].GatherFrom = "a" }, StatusGatherFromNotDemultiplexer},
		{"two demultiplexers, one dynamic", func(p *config.Pipeline) {
			p.Nodes[0].DemultiplyCount = -1
			p.Nodes[1].DemultiplyCount = 2
		}, StatusMultipleDynamicDemultiplexers},
		{"auto shape model", func(p *config.Pipeline) { p.Nodes[1].ModelName = "auto" }, StatusDynamicParametersOnSubscribed},
		{"stateful model", func(p *config.Pipeline) { p.Nodes[1].ModelName = "rnn" }, StatusStatefulOnSubscribed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePipeline()
			c.edit(&p)
			var ve *ValidationError
			if err := Check(p, models, libs); !errors.As(err, &ve) || ve.Status != c.want {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}
