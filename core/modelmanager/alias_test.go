package modelmanager

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// TestAliasesWithMapping checks that tensor aliases live with
// mapping_config.json: an alias leads to the served (mapped) name, and an
// alias equal to a served name or claimed twice is dropped.
func TestAliasesWithMapping(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, mappingFile), []byte(`{"inputs": {"input": "data"}, "outputs": {"prob": "scores"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	info := &device.ModelInfo{
		Inputs: []device.TensorInfo{
			{Name: "input", Aliases: []string{"input:0", "other", "shared"}},
			{Name: "other", Aliases: []string{"shared", "other:0"}},
		},
		Outputs: []device.TensorInfo{{Name: "prob", Aliases: []string{"prob:0"}}, {Name: "plain"}},
	}
	if _, err := readMapping(dir, info); err != nil {
		t.Fatal(err)
	}
	if got := info.Inputs[0]; got.Name != "data" || !slices.Equal(got.Aliases, []string{"input:0"}) {
		t.Errorf("input 0: %+v", got)
	}
	if got := info.Inputs[1]; !slices.Equal(got.Aliases, []string{"other:0"}) {
		t.Errorf("input 1: %+v", got)
	}
	if got := info.Outputs[1]; got.Aliases != nil {
		t.Errorf("output 1: %+v", got)
	}
	v := &Version{info: info}
	outs, err := v.checkOutputs([]string{"plain", "prob:0"})
	if err != nil || !slices.Equal(outs, []string{"plain", "scores"}) {
		t.Errorf("checkOutputs: %v %v", outs, err)
	}
	asked := []string{"scores"}
	if outs, err := v.checkOutputs(asked); err != nil || &outs[0] != &asked[0] {
		t.Errorf("served names must pass as they are: %v %v", outs, err)
	}
	if _, err := v.checkOutputs([]string{"prob"}); err == nil {
		t.Error("the model name of a mapped output must not be accepted (OVMS)")
	}
	ps := map[string]tensor.ShmRef{"prob:0": {Offset: 8}, "plain": {}}
	v.servedKeys(ps)
	if _, ok := ps["scores"]; !ok || len(ps) != 2 || ps["scores"].Offset != 8 {
		t.Errorf("placements: %v", ps)
	}
	if got := v.ServedOutputName("prob:0"); got != "scores" {
		t.Errorf("ServedOutputName = %q", got)
	}
}

// TestAPILayoutsFromModel checks that an input's own layout (an IR's
// rt_info) counts where no layout is configured for it.
func TestAPILayoutsFromModel(t *testing.T) {
	info := &device.ModelInfo{Inputs: []device.TensorInfo{{Name: "img", Layout: "NCHW"}, {Name: "other", Layout: "NC"}, {Name: "plain"}}}
	got := apiLayouts("", info, &names{})
	if len(got) != 2 || got["img"] != "NCHW" || got["other"] != "NC" {
		t.Errorf("no setting: %v", got)
	}
	got = apiLayouts(`{"img": "NHWC:NCHW"}`, info, &names{})
	if got["img"] != "NHWC" || got["other"] != "NC" {
		t.Errorf("configured: %v", got)
	}
	if got := apiLayouts("", &device.ModelInfo{Inputs: []device.TensorInfo{{Name: "x"}}}, &names{}); got != nil {
		t.Errorf("no layouts: %v", got)
	}
}
