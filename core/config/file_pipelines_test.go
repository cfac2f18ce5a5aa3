package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestPipelinesParsed(t *testing.T) {
	data := `{
 "model_config_list": [{"config": {"name": "m", "base_path": "models/m"}}],
 "pipeline_config_list": [
  {"name": "p", "inputs": ["in"], "demultiply_count": 0,
   "nodes": [
    {"name": "a", "type": "DL model", "model_name": "m", "version": 2, "demultiply_count": 4,
     "inputs": [{"x": {"node_name": "request", "data_item": "in"}}],
     "outputs": [{"data_item": "y", "alias": "ya"}]},
    {"name": "b", "type": "custom", "library_name": "lib", "params": {"k": "v"}, "gather_from_node": "a",
     "inputs": [{"i1": {"node_name": "a", "data_item": "ya"}}, {"i2": {"node_name": "request", "data_item": "in"}}],
     "outputs": [{"data_item": "o", "alias": "o"}]}],
   "outputs": [{"out": {"node_name": "b", "data_item": "o"}}]},
  {"name": "p", "inputs": [], "nodes": [], "outputs": []},
  {"name": "m", "inputs": [], "nodes": [], "outputs": []}
 ]}`
	f, err := ParseFile("/etc/ovms/config.json", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Pipeline{{
		Name: "p", Inputs: []string{"in"}, DemultiplyCount: -1,
		Nodes: []Node{
			{Name: "a", Kind: NodeModel, ModelName: "m", Version: 2, DemultiplyCount: 4,
				Inputs: []Connection{{Name: "x", Node: "request", Item: "in"}}, Outputs: []OutputAlias{{DataItem: "y", Alias: "ya"}}},
			{Name: "b", Kind: NodeCustom, LibraryName: "lib", Params: map[string]string{"k": "v"}, GatherFrom: "a",
				Inputs:  []Connection{{Name: "i1", Node: "a", Item: "ya"}, {Name: "i2", Node: "request", Item: "in"}},
				Outputs: []OutputAlias{{DataItem: "o", Alias: "o"}}},
		},
		Outputs: []Connection{{Name: "out", Node: "b", Item: "o"}},
	}}
	if !reflect.DeepEqual(f.Pipelines, want) {
		t.Fatalf("pipelines:\n%+v\nwant:\n%+v", f.Pipelines, want)
	}
	var problems, warnings []string
	for _, p := range f.Problems {
		problems = append(problems, p.String())
	}
	for _, p := range f.Warnings {
		warnings = append(warnings, p.String())
	}
	wantProblems := []string{
		"/pipeline_config_list/1/name: Pipeline definition with the same name already exists - Duplicated pipeline names: p defined in config file. Only first definition will be loaded.",
		"/pipeline_config_list/2/name: Pipeline has the same name as model - Pipeline name: m is already occupied by model.",
	}
	if strings.Join(problems, "\n") != strings.Join(wantProblems, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(wantProblems, "\n"))
	}
	if len(warnings) != 1 || warnings[0] != "/pipeline_config_list/0/demultiply_count: demultiply_count 0 will be deprecated. For dynamic count use -1." {
		t.Errorf("warnings: %q", warnings)
	}
	if len(f.Models) != 1 || f.Models[0].Name != "m" {
		t.Errorf("the model keeps its name: %+v", f.Models)
	}
}
