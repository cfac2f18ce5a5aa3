package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestNodeLibraries(t *testing.T) {
	data := `{"model_config_list": [], "custom_node_library_config_list": [
		{"name": "argmax", "base_path": "nodes/ovms-node-argmax"},
		{"name": "crop", "base_path": "/opt/ovms/ovms-node-cropboxes"},
		{"name": "argmax", "base_path": "/elsewhere"},
		{"name": "", "base_path": "/x"},
		{"name": "empty", "base_path": ""}]}`
	f, err := ParseFile("/etc/ovms/config.json", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeLibrary{{"argmax", "/etc/ovms/nodes/ovms-node-argmax"}, {"crop", "/opt/ovms/ovms-node-cropboxes"}}
	if !reflect.DeepEqual(f.NodeLibraries, want) {
		t.Errorf("NodeLibraries = %+v, want %+v", f.NodeLibraries, want)
	}
	var got []string
	for _, p := range f.Problems {
		got = append(got, p.String())
	}
	for i, w := range []string{
		"/custom_node_library_config_list/2/name: Duplicated custom node library names: argmax",
		"/custom_node_library_config_list/3/name: Custom node library config is invalid",
		"/custom_node_library_config_list/4/base_path: The provided base path is invalid",
	} {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d: got %q, want %q...", i, got, w)
		}
	}
	for _, w := range f.Warnings {
		if strings.Contains(w.Path, "custom_node_library") {
			t.Errorf("warning %s: libraries are served now", w)
		}
	}
	for _, bad := range []string{
		`{"model_config_list": [], "custom_node_library_config_list": [{"name": "a"}]}`,
		`{"model_config_list": [], "custom_node_library_config_list": [{"name": "a", "base_path": "/x", "extra": 1}]}`,
		`{"model_config_list": [], "custom_node_library_config_list": [{"name": 1, "base_path": "/x"}]}`,
	} {
		if _, err := ParseFile("/etc/ovms/config.json", []byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
