package config

import "fmt"

// NodeLibrary is one custom_node_library_config_list entry: a custom node
// library (an ovms-node-<name> program, see docs/custom-nodes.md) that
// pipelines' custom nodes name by library_name.
type NodeLibrary struct {
	// Name is the library_name pipelines refer to it by.
	Name string
	// BasePath is the program, or a folder holding one ovms-node-*
	// program; relative paths are resolved against the config file's
	// folder, as a model's base_path.
	BasePath string
}

// nodeLibraryEntry is one custom_node_library_config_list[i] after the
// schema (both keys required, strings).
type nodeLibraryEntry struct {
	Name     string `json:"name"`
	BasePath string `json:"base_path"`
}

// nodeLibraries checks the entries and returns the libraries: an empty
// name or base path skips the entry, and of duplicated names the first
// wins (as OVMS), each with a Problem.
func nodeLibraries(entries []nodeLibraryEntry, dir string) ([]NodeLibrary, []Problem) {
	var libs []NodeLibrary
	var problems []Problem
	seen := map[string]bool{}
	for i, e := range entries {
		path := fmt.Sprintf("/custom_node_library_config_list/%d", i)
		switch {
		case e.Name == "":
			problems = append(problems, Problem{Path: path + "/name", Message: "Custom node library config is invalid - a library needs a non-empty name"})
		case e.BasePath == "":
			problems = append(problems, Problem{Path: path + "/base_path", Message: fmt.Sprintf(
				"The provided base path is invalid or doesn't exists - custom node library %s has no base_path", e.Name)})
		case seen[e.Name]:
			problems = append(problems, Problem{Path: path + "/name", Message: fmt.Sprintf(
				"Duplicated custom node library names: %s defined in config file. Only first library will be loaded.", e.Name)})
		default:
			seen[e.Name] = true
			libs = append(libs, NodeLibrary{Name: e.Name, BasePath: ResolveBasePath(e.BasePath, dir)})
		}
	}
	return libs, problems
}
