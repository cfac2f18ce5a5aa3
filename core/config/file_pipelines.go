package config

import (
	"fmt"
	"sort"
)

// Pipeline is one pipeline_config_list entry (an OVMS DAG), as written;
// core/pipeline validates it against the served models.
type Pipeline struct {
	// Name is the servable name.
	Name string
	// Inputs are the pipeline's input names (the request node's outputs).
	Inputs []string
	// Nodes are the DL model and custom nodes, in file order.
	Nodes []Node
	// Outputs are the response node's inputs, in file order.
	Outputs []Connection
	// DemultiplyCount is the pipeline-level demultiply_count: 0 when not
	// set, N, or -1 (dynamic; a 0 in the file becomes -1 with a warning).
	DemultiplyCount int
}

// NodeKind is a node's type.
type NodeKind string

// The node types of pipeline_config_list.
const (
	NodeModel  NodeKind = "DL model"
	NodeCustom NodeKind = "custom"
)

// Node is one node of a pipeline.
type Node struct {
	// Name is the node name, unique in its pipeline.
	Name string
	// Kind is "DL model" or "custom".
	Kind NodeKind
	// ModelName and Version (0: the default version) for a DL model node.
	ModelName string
	Version   int64
	// LibraryName and Params for a custom node.
	LibraryName string
	Params      map[string]string
	// Inputs connect the node's inputs to other nodes' outputs, in file
	// order.
	Inputs []Connection
	// Outputs are the node's outputs as other nodes refer to them.
	Outputs []OutputAlias
	// DemultiplyCount is 0 when not set, N, or -1 (dynamic).
	DemultiplyCount int
	// GatherFrom is gather_from_node; "" when not set.
	GatherFrom string
}

// Connection is one {"<name>": {"node_name", "data_item"}} entry: Name is
// the consuming input (or the pipeline output), Node and Item the source.
type Connection struct {
	Name string
	Node string
	Item string
}

// OutputAlias names a node's output (DataItem, the model's output name)
// as Alias for the nodes that consume it.
type OutputAlias struct {
	DataItem string `json:"data_item"`
	Alias    string `json:"alias"`
}

// The special node names of a pipeline.
const (
	EntryNode = "request"
	ExitNode  = "response"
)

// pipelineEntry is one pipeline_config_list[i] after schema validation.
type pipelineEntry struct {
	Name            string                       `json:"name"`
	Inputs          []string                     `json:"inputs"`
	Nodes           []nodeEntry                  `json:"nodes"`
	Outputs         []map[string]connectionEntry `json:"outputs"`
	DemultiplyCount *float64                     `json:"demultiply_count"`
}

type nodeEntry struct {
	Name            string                       `json:"name"`
	Type            string                       `json:"type"`
	ModelName       string                       `json:"model_name"`
	LibraryName     string                       `json:"library_name"`
	Version         *float64                     `json:"version"`
	Inputs          []map[string]connectionEntry `json:"inputs"`
	Outputs         []OutputAlias                `json:"outputs"`
	Params          map[string]string            `json:"params"`
	DemultiplyCount *float64                     `json:"demultiply_count"`
	GatherFromNode  string                       `json:"gather_from_node"`
}

type connectionEntry struct {
	NodeName string `json:"node_name"`
	DataItem string `json:"data_item"`
}

// connections flattens source_node objects (one key each, by the schema).
func connections(list []map[string]connectionEntry) []Connection {
	out := make([]Connection, 0, len(list))
	for _, m := range list {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, Connection{Name: k, Node: m[k].NodeName, Item: m[k].DataItem})
		}
	}
	return out
}

// demultiply turns a demultiply_count into its value: 0 (the deprecated
// spelling of dynamic) becomes -1 with OVMS's warning.
func demultiply(v *float64, path string, warn func(path, format string, args ...any)) int {
	if v == nil {
		return 0
	}
	n := int(*v)
	if n == 0 {
		warn(path, "demultiply_count 0 will be deprecated. For dynamic count use -1.")
		return -1
	}
	return n
}

// applyPipelines parses pipeline_config_list into f.Pipelines: the first
// of duplicated names wins, and a pipeline named like a model is refused
// (OVMS loads models first, so the model keeps the name).
func applyPipelines(list []pipelineEntry, f *File, models map[string]bool, warn func(path, format string, args ...any)) {
	seen := map[string]bool{}
	for i, e := range list {
		path := fmt.Sprintf("/pipeline_config_list/%d", i)
		switch {
		case seen[e.Name]:
			f.Problems = append(f.Problems, Problem{Path: path + "/name", Message: fmt.Sprintf(
				"Pipeline definition with the same name already exists - Duplicated pipeline names: %s defined in config file. Only first definition will be loaded.", e.Name)})
			continue
		case models[e.Name]:
			f.Problems = append(f.Problems, Problem{Path: path + "/name", Message: fmt.Sprintf(
				"Pipeline has the same name as model - Pipeline name: %s is already occupied by model.", e.Name)})
			continue
		}
		seen[e.Name] = true
		p := Pipeline{Name: e.Name, Inputs: e.Inputs, Outputs: connections(e.Outputs),
			DemultiplyCount: demultiply(e.DemultiplyCount, path+"/demultiply_count", warn)}
		for j, n := range e.Nodes {
			node := Node{Name: n.Name, Kind: NodeKind(n.Type), ModelName: n.ModelName, LibraryName: n.LibraryName, Params: n.Params,
				Inputs: connections(n.Inputs), Outputs: n.Outputs, GatherFrom: n.GatherFromNode,
				DemultiplyCount: demultiply(n.DemultiplyCount, fmt.Sprintf("%s/nodes/%d/demultiply_count", path, j), warn)}
			if n.Version != nil {
				node.Version = int64(*n.Version)
			}
			p.Nodes = append(p.Nodes, node)
		}
		f.Pipelines = append(f.Pipelines, p)
	}
}
