// Package pipeline serves OVMS's DAG pipelines (pipeline_config_list): it
// validates each definition against the served models (and custom node
// libraries) with OVMS's rules and status texts, derives the pipeline's
// metadata from the graph, and runs requests through the graph: each node
// as soon as its inputs are ready (independent branches concurrently),
// demultiplexed sub-graphs once per shard, gathers at gather_from_node or
// implicitly at the response. Model nodes run through the model manager
// on versions pinned for the request, with inputs that alias the previous
// node's outputs in the plugin's arena; each node's outputs go back to
// their plugin once every consumer is done with them.
package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// Node is a custom node instance (a node library with its parameters), as
// the custom node host provides it.
type Node interface {
	// Info is the node's inputs and outputs for its parameters.
	Info() *device.ModelInfo
	// Infer runs the node on one set of inputs.
	Infer(ctx context.Context, req *tensor.Request) (*tensor.Response, error)
	// Close ends the instance.
	Close()
}

// NodeOpener opens custom nodes (core/customnode, through an adapter).
type NodeOpener interface {
	// Open instantiates a library's node with params.
	Open(ctx context.Context, library, node string, params map[string]string) (Node, error)
}

// LibraryTracker is implemented by a NodeOpener that can tell a
// library's configuration apart over time: Library identifies the
// library configured under name now (nil: none). A definition with custom
// nodes is validated again when the identity of one of its libraries
// changes (removed from custom_node_library_config_list, added back, or
// its base_path changed), as OVMS revalidates pipelines when libraries
// change.
type LibraryTracker interface {
	Library(name string) any
}

// Model describes the model version a DL model node would use now.
type Model struct {
	// Info is the version's metadata.
	Info *device.ModelInfo
	// Dynamic marks shape or batch_size "auto" (refused in pipelines).
	Dynamic bool
	// Stateful marks a stateful model (refused in pipelines).
	Stateful bool
	// Key identifies the version object: a definition is validated again
	// when the version its node would use changes.
	Key any
}

// Runner is a pinned model version (or custom node) for one request.
type Runner interface {
	// Infer runs one request on it.
	Infer(ctx context.Context, req *tensor.Request) (*tensor.Response, error)
	// Release unpins it.
	Release()
}

// Models is what a pipeline needs from the model manager.
type Models interface {
	// Describe finds the AVAILABLE version of a model a node uses
	// (version 0: the default one).
	Describe(name string, version int64) (*Model, error)
	// Acquire pins that version for one request.
	Acquire(ctx context.Context, name string, version int64) (Runner, error)
}

// Status is an OVMS pipeline status code with its message.
type Status string

// OVMS's pipeline validation status texts (src/status.cpp).
const (
	StatusMultipleEntryNodes            Status = "Pipeline definition has multiple request nodes"
	StatusMultipleExitNodes             Status = "Pipeline definition has multiple response nodes"
	StatusMissingEntryOrExit            Status = "Pipeline definition is missing request or response node"
	StatusNodeNameDuplicate             Status = "Pipeline definition has multiple nodes with the same name"
	StatusCycleFound                    Status = "Pipeline definition contains a cycle"
	StatusUnconnectedNodes              Status = "Pipeline definition has unconnected nodes"
	StatusMissingNode                   Status = "Pipeline definition has reference to missing node"
	StatusMissingModel                  Status = "Pipeline definition has reference to missing model"
	StatusMissingDataSource             Status = "Pipeline definition has reference to missing data source"
	StatusMissingModelOutput            Status = "Pipeline definition has reference to missing model output"
	StatusMissingModelInput             Status = "Pipeline definition has connection to non existing model input"
	StatusNotAllInputsConnected         Status = "Pipeline definition does not have connections for all inputs of underlying models"
	StatusInputMultipleSources          Status = "Pipeline definition has multiple connections to the same input of underlying model"
	StatusExitUsedAsDependency          Status = "Pipeline definition has response node used as dependency node"
	StatusInvalidNodeLibrary            Status = "Pipeline refers to incorrect library"
	StatusNodeLibraryInitializeFailed   Status = "Failure during custom node library initialization"
	StatusDemultiplexerBatch            Status = "Batch size >= 2 is not allowed when demultiplexer is used"
	StatusGatherFromMissingNode         Status = "Gather node refers to not existing node"
	StatusGatherFromNotDemultiplexer    Status = "Gather node refers to node that isn't demultiplexer"
	StatusGatherFromEntry               Status = "Gathering from entry node is not allowed"
	StatusNotEnoughDimsToDemultiply     Status = "Pipeline has not enough shape dimensions to demultiply"
	StatusDemultiplyCountMismatch       Status = "Demultiplication count does not match tensor first dimension"
	StatusWrongDemuxGatherOrder         Status = "Demultiplexer and gather nodes are not in LIFO order"
	StatusAmbiguousInputMetadata        Status = "Multiple nodes connected to the same pipeline input require different tensor metadata"
	StatusDynamicParametersOnSubscribed Status = "Requested dynamic parameters but model is used in pipeline"
	StatusStatefulOnSubscribed          Status = "Stateful model cannot be subscribed to pipeline"
	StatusInvalidShape                  Status = "Invalid input shape"
	// StatusMultipleDynamicDemultiplexers is OVMS's NOT_IMPLEMENTED, which
	// it returns for a dynamic demultiplexer beside another demultiplexer.
	StatusMultipleDynamicDemultiplexers Status = "Functionality not implemented"
	StatusInvalidPrecision              Status = "Invalid input precision"
)

// ValidationError is a definition that does not validate.
type ValidationError struct {
	// Status is OVMS's status text.
	Status Status
	// Details says where.
	Details string
}

// Error is OVMS's "<message> - <details>".
func (e *ValidationError) Error() string {
	if e.Details == "" {
		return string(e.Status)
	}
	return string(e.Status) + " - " + e.Details
}

func invalid(s Status, format string, args ...any) error {
	return &ValidationError{Status: s, Details: fmt.Sprintf(format, args...)}
}

// edge is one connection into a node (or into the response).
type edge struct {
	input string // the consuming input (or the pipeline output) name
	src   int    // the source node's index
	item  string // the source's tensor: a model output, or a pipeline input
	alias string // the data_item as the config wrote it
}

// node is a validated node. Index 0 is the request node, the last one the
// response node; the others are in topological order.
type node struct {
	name    string
	kind    config.NodeKind
	model   string
	version int64
	custom  Node
	info    *device.ModelInfo // inputs and outputs (entry: outputs only)
	inputs  []edge
	demux   int // demultiply_count: 0 none, N, -1 dynamic
	gather  int // index of the gathered demultiplexer; -1 none
	// stack lists the demultiplexers open where the node runs (outermost
	// first); out those open on its outputs (stack plus itself for a
	// demultiplexer).
	stack, out []int
	// consumers counts the edges reading the node's outputs.
	consumers int
	toExit    bool // some pipeline output reads it
	outputs   []string
}

// graph is a validated pipeline definition.
type graph struct {
	name  string
	nodes []*node
	info  *device.ModelInfo
	// key fingerprints the model versions it was validated against.
	key string
}

func (g *graph) exit() *node { return g.nodes[len(g.nodes)-1] }

// validate checks a definition against the served models and custom
// nodes, in OVMS's order, and builds its graph. Custom nodes it opened are
// closed when it fails.
func validate(ctx context.Context, cfg config.Pipeline, models Models, opener NodeOpener) (*graph, error) {
	return validateWith(ctx, cfg, models, opener, nil)
}

// validateWith is validate; with off set, it checks offline: models and
// libraries only by name (off's), each node's inputs and outputs taken as
// its config connects them, and no tensor checks.
func validateWith(ctx context.Context, cfg config.Pipeline, models Models, opener NodeOpener, off *offline) (_ *graph, err error) {
	g := &graph{name: cfg.Name}
	var keys []string
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	if len(cfg.Inputs) == 0 || len(cfg.Outputs) == 0 {
		return nil, invalid(StatusMissingEntryOrExit, "pipeline: %s", cfg.Name)
	}
	index := map[string]int{config.EntryNode: 0}
	entry := &node{name: config.EntryNode, kind: "entry", demux: cfg.DemultiplyCount, gather: -1, info: &device.ModelInfo{}}
	for _, in := range cfg.Inputs {
		entry.info.Outputs = append(entry.info.Outputs, device.TensorInfo{Name: in, DType: device.Invalid})
	}
	nodes := []*node{entry}
	// OVMS's order: request and response named twice, then the dynamic
	// demultiplexer rule, then duplicate names.
	for _, c := range cfg.Nodes {
		if c.Name == config.EntryNode {
			return nil, invalid(StatusMultipleEntryNodes, "pipeline: %s", cfg.Name)
		}
	}
	for _, c := range cfg.Nodes {
		if c.Name == config.ExitNode {
			return nil, invalid(StatusMultipleExitNodes, "pipeline: %s", cfg.Name)
		}
	}
	if err := oneDynamicDemultiplexer(cfg); err != nil {
		return nil, err
	}
	for _, c := range cfg.Nodes {
		if _, dup := index[c.Name]; dup {
			return nil, invalid(StatusNodeNameDuplicate, "pipeline: %s; node: %s", cfg.Name, c.Name)
		}
		index[c.Name] = len(nodes)
		nodes = append(nodes, &node{name: c.Name, kind: c.Kind, model: c.ModelName, version: c.Version, demux: c.DemultiplyCount, gather: -1})
	}
	exit := &node{name: config.ExitNode, kind: "exit", gather: -1, info: &device.ModelInfo{}}
	index[config.ExitNode] = len(nodes)
	nodes = append(nodes, exit)
	g.nodes = nodes

	// Each node's model or library, its inputs and outputs.
	for i, c := range cfg.Nodes {
		n := nodes[i+1]
		switch c.Kind {
		case config.NodeModel:
			m, err := models.Describe(c.ModelName, c.Version)
			if err != nil {
				return nil, invalid(StatusMissingModel, "pipeline: %s; node: %s; model: %s; version: %d", cfg.Name, c.Name, c.ModelName, c.Version)
			}
			if m.Stateful {
				return nil, invalid(StatusStatefulOnSubscribed, "pipeline: %s; node: %s; model: %s", cfg.Name, c.Name, c.ModelName)
			}
			if m.Dynamic {
				return nil, invalid(StatusDynamicParametersOnSubscribed, "pipeline: %s; node: %s; model: %s", cfg.Name, c.Name, c.ModelName)
			}
			n.info = m.Info
			if off != nil {
				n.info = configInfo(c)
			}
			keys = append(keys, modelKey(c.ModelName, m.Key))
		case config.NodeCustom:
			if off != nil {
				if !off.libraries[c.LibraryName] {
					return nil, invalid(StatusInvalidNodeLibrary, "pipeline: %s; node: %s; non existing custom node library: %s", cfg.Name, c.Name, c.LibraryName)
				}
				n.info = configInfo(c)
				continue
			}
			if opener == nil {
				return nil, invalid(StatusInvalidNodeLibrary, "pipeline: %s; node: %s; non existing custom node library: %s", cfg.Name, c.Name, c.LibraryName)
			}
			keys = append(keys, libraryKey(opener, c.LibraryName))
			cn, err := opener.Open(ctx, c.LibraryName, c.Name, c.Params)
			if err != nil {
				// The library's factory refused the params (OVMS's
				// initialize failing): NODE_LIBRARY_INITIALIZE_FAILED;
				// anything else is a library OVMS would not have.
				if apierr.Is(err, apierr.NodeLibraryInitializeFailed) {
					return nil, invalid(StatusNodeLibraryInitializeFailed, "pipeline: %s; node: %s; library: %s; %s", cfg.Name, c.Name, c.LibraryName, apierr.From(err).Details)
				}
				return nil, invalid(StatusInvalidNodeLibrary, "pipeline: %s; node: %s; library: %s: %v", cfg.Name, c.Name, c.LibraryName, err)
			}
			n.custom, n.info = cn, cn.Info()
			if n.info == nil {
				return nil, invalid(StatusInvalidNodeLibrary, "pipeline: %s; node: %s; library: %s reports no inputs and outputs", cfg.Name, c.Name, c.LibraryName)
			}
		}
	}
	// Gathers.
	for i, c := range cfg.Nodes {
		if c.GatherFrom == "" {
			continue
		}
		src, ok := index[c.GatherFrom]
		switch {
		case !ok || src == len(nodes)-1:
			return nil, invalid(StatusGatherFromMissingNode, "pipeline: %s; node: %s; gather_from_node: %s", cfg.Name, c.Name, c.GatherFrom)
		case src == 0:
			return nil, invalid(StatusGatherFromEntry, "pipeline: %s; node: %s", cfg.Name, c.Name)
		case nodes[src].demux == 0:
			return nil, invalid(StatusGatherFromNotDemultiplexer, "pipeline: %s; node: %s; gather_from_node: %s", cfg.Name, c.Name, c.GatherFrom)
		}
		nodes[i+1].gather = src
	}
	// Connections.
	connect := func(n *node, conns []config.Connection, isExit bool) error {
		seen := map[string]bool{}
		for _, c := range conns {
			src, ok := index[c.Node]
			if !ok {
				return invalid(StatusMissingNode, "pipeline: %s; node: %s; missing dependency node: %s", cfg.Name, n.name, c.Node)
			}
			if src == len(nodes)-1 {
				return invalid(StatusExitUsedAsDependency, "pipeline: %s; node: %s", cfg.Name, n.name)
			}
			// OVMS's order: the input is marked connected first, then the
			// data source is checked.
			if !isExit {
				if tensorOf(n.info.Inputs, c.Name) == nil {
					return invalid(StatusMissingModelInput, "pipeline: %s; node: %s; missing input: %s", cfg.Name, n.name, c.Name)
				}
				if seen[c.Name] {
					return invalid(StatusInputMultipleSources, "pipeline: %s; node: %s; input: %s", cfg.Name, n.name, c.Name)
				}
			}
			e := edge{input: c.Name, src: src, item: c.Item, alias: c.Item}
			if src != 0 {
				item, ok := aliasOf(cfg.Nodes[src-1], c.Item)
				if !ok {
					return invalid(StatusMissingDataSource, "pipeline: %s; node: %s; missing data item: %s of node: %s", cfg.Name, n.name, c.Item, c.Node)
				}
				if tensorOf(nodes[src].info.Outputs, item) == nil {
					return invalid(StatusMissingModelOutput, "pipeline: %s; node: %s; missing output: %s of node: %s", cfg.Name, n.name, item, c.Node)
				}
				e.item = item
			} else if !slices.Contains(cfg.Inputs, c.Item) {
				return invalid(StatusMissingDataSource, "pipeline: %s; node: %s; missing pipeline input: %s", cfg.Name, n.name, c.Item)
			}
			if isExit && seen[c.Name] {
				return invalid(StatusInputMultipleSources, "pipeline: %s; output: %s", cfg.Name, c.Name)
			}
			seen[c.Name] = true
			n.inputs = append(n.inputs, e)
			nodes[src].consumers++
			if isExit {
				nodes[src].toExit = true
			}
			if !slices.Contains(nodes[src].outputs, e.item) {
				nodes[src].outputs = append(nodes[src].outputs, e.item)
			}
		}
		if !isExit {
			for _, t := range n.info.Inputs {
				if !seen[t.Name] {
					return invalid(StatusNotAllInputsConnected, "pipeline: %s; node: %s; input not connected: %s", cfg.Name, n.name, t.Name)
				}
			}
		}
		return nil
	}
	for i, c := range cfg.Nodes {
		if err := connect(nodes[i+1], c.Inputs, false); err != nil {
			return nil, err
		}
	}
	if err := connect(exit, cfg.Outputs, true); err != nil {
		return nil, err
	}
	if err := g.order(); err != nil {
		return nil, err
	}
	if err := g.levels(); err != nil {
		return nil, err
	}
	if off != nil {
		return g, nil
	}
	if err := g.checkTensors(); err != nil {
		return nil, err
	}
	g.key = joinKeys(keys)
	return g, nil
}

// oneDynamicDemultiplexer is OVMS's rule that a pipeline with a dynamic
// demultiplexer (demultiply_count -1, the pipeline's own included) has no
// other demultiplexer: NOT_IMPLEMENTED, logged by OVMS as "has multiple
// demultiplexers with at least one dynamic".
func oneDynamicDemultiplexer(cfg config.Pipeline) error {
	count, dynamic := 0, false
	for _, d := range append([]int{cfg.DemultiplyCount}, demultiplyCounts(cfg.Nodes)...) {
		if d != 0 {
			count++
			dynamic = dynamic || d < 0
		}
	}
	if dynamic && count > 1 {
		return invalid(StatusMultipleDynamicDemultiplexers, "pipeline: %s has multiple demultiplexers with at least one dynamic", cfg.Name)
	}
	return nil
}

func demultiplyCounts(nodes []config.Node) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n.DemultiplyCount
	}
	return out
}

func modelKey(name string, key any) string { return fmt.Sprintf("%s:%p", name, key) }

// libraryKey fingerprints the library a custom node uses (its name only
// when the opener does not track libraries).
func libraryKey(opener NodeOpener, name string) string {
	t, ok := opener.(LibraryTracker)
	if !ok {
		return "library " + name
	}
	return fmt.Sprintf("library %s:%p", name, t.Library(name))
}

func joinKeys(keys []string) string { return strings.Join(keys, ",") }

// aliasOf finds the model output a node's alias stands for.
func aliasOf(c config.Node, alias string) (string, bool) {
	for _, o := range c.Outputs {
		if o.Alias == alias {
			return o.DataItem, true
		}
	}
	return "", false
}

func tensorOf(ts []device.TensorInfo, name string) *device.TensorInfo {
	for i := range ts {
		if ts[i].Name == name || slices.Contains(ts[i].Aliases, name) {
			return &ts[i]
		}
	}
	return nil
}

// order finds cycles and unconnected nodes and sorts the nodes
// topologically (request first, response last).
func (g *graph) order() error {
	n := len(g.nodes)
	deps := make([][]int, n)
	for i, nd := range g.nodes {
		for _, e := range nd.inputs {
			deps[i] = append(deps[i], e.src)
		}
	}
	state := make([]int, n) // 0 new, 1 on the path, 2 done
	var sorted []int
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case 1:
			return false
		case 2:
			return true
		}
		state[i] = 1
		for _, d := range deps[i] {
			if !visit(d) {
				return false
			}
		}
		state[i] = 2
		sorted = append(sorted, i)
		return true
	}
	for i := range n {
		if !visit(i) {
			return invalid(StatusCycleFound, "pipeline: %s", g.name)
		}
	}
	// Every node must lead to the response and come from the request.
	toExit := make([]bool, n)
	toExit[n-1] = true
	for k := len(sorted) - 1; k >= 0; k-- {
		i := sorted[k]
		if toExit[i] {
			for _, d := range deps[i] {
				toExit[d] = true
			}
		}
	}
	fromEntry := make([]bool, n)
	fromEntry[0] = true
	for _, i := range sorted {
		for _, d := range deps[i] {
			if fromEntry[d] {
				fromEntry[i] = true
			}
		}
	}
	for i := range n {
		if !toExit[i] || !fromEntry[i] {
			return invalid(StatusUnconnectedNodes, "pipeline: %s; node: %s", g.name, g.nodes[i].name)
		}
	}
	// Renumber: request first, response last, topological in between.
	pos := make([]int, n)
	var nodes []*node
	for _, i := range sorted {
		pos[i] = len(nodes)
		nodes = append(nodes, g.nodes[i])
	}
	for _, nd := range nodes {
		for k := range nd.inputs {
			nd.inputs[k].src = pos[nd.inputs[k].src]
		}
		if nd.gather >= 0 {
			nd.gather = pos[nd.gather]
		}
	}
	g.nodes = nodes
	return nil
}

// levels computes where each node runs relative to the demultiplexers and
// checks their LIFO nesting with the gathers.
func (g *graph) levels() error {
	for i, nd := range g.nodes {
		var stack []int
		exit := i == len(g.nodes)-1
		for _, e := range nd.inputs {
			s := g.nodes[e.src].out
			switch {
			case isPrefix(stack, s):
				stack = s
			case isPrefix(s, stack) || exit:
			default:
				return invalid(StatusWrongDemuxGatherOrder, "pipeline: %s; node: %s", g.name, nd.name)
			}
		}
		stack = slices.Clone(stack)
		if nd.gather >= 0 {
			if len(stack) == 0 || stack[len(stack)-1] != nd.gather {
				return invalid(StatusWrongDemuxGatherOrder, "pipeline: %s; node: %s; gather_from_node: %s", g.name, nd.name, g.nodes[nd.gather].name)
			}
			stack = stack[:len(stack)-1]
		}
		if exit {
			stack = nil // the response gathers what is still open
		}
		nd.stack = stack
		nd.out = stack
		if nd.demux != 0 {
			nd.out = append(slices.Clone(stack), i)
		}
	}
	return nil
}

func isPrefix(p, s []int) bool { return len(p) <= len(s) && slices.Equal(p, s[:len(p)]) }

// shapeAt is the shape of node src's output item as a node running at
// depth (len of its stack) sees it, with gather g (-1: none) applied.
func (g *graph) shapeAt(src int, t device.TensorInfo, consumer *node) []int64 {
	s := g.nodes[src]
	shape := slices.Clone(t.Shape)
	if s.demux != 0 && len(shape) > 0 {
		shape = shape[1:] // one shard
	}
	// Gathers (explicit, or every open level at the response) add a
	// leading dimension per level closed.
	for k := len(s.out) - 1; k >= len(consumer.stack); k-- {
		d := int64(-1)
		if n := g.nodes[s.out[k]].demux; n > 0 {
			d = int64(n)
		}
		shape = append([]int64{d}, shape...)
	}
	return shape
}

// checkTensors derives the pipeline's inputs from their consumers, checks
// shapes and precisions between nodes, demultiplexers' outputs, and builds
// the pipeline's metadata.
func (g *graph) checkTensors() error {
	entry := g.nodes[0]
	// OVMS checks every output of a demultiplexer: at least 3 dimensions
	// (the shards, then a batch), and a static first one equal to a fixed
	// count.
	demuxes := entry.demux != 0
	for _, nd := range g.nodes[1 : len(g.nodes)-1] {
		if nd.demux == 0 {
			continue
		}
		demuxes = true
		for _, t := range nd.info.Outputs {
			if len(t.Shape) < 3 {
				return invalid(StatusNotEnoughDimsToDemultiply, "pipeline: %s; node: %s; output: %s; dimensions: %d", g.name, nd.name, t.Name, len(t.Shape))
			}
			if nd.demux > 0 && t.Shape[0] >= 0 && t.Shape[0] != int64(nd.demux) {
				return invalid(StatusDemultiplyCountMismatch, "pipeline: %s; node: %s; output: %s; demultiply_count: %d; first dimension: %d", g.name, nd.name, t.Name, nd.demux, t.Shape[0])
			}
		}
	}
	// In a pipeline that demultiplies, no node but a gathering one takes
	// a batch of 2 or more.
	if demuxes {
		for _, nd := range g.nodes[1 : len(g.nodes)-1] {
			if nd.gather >= 0 {
				continue
			}
			for _, t := range nd.info.Inputs {
				if len(t.Shape) > 0 && t.Shape[0] >= 2 {
					return invalid(StatusDemultiplexerBatch, "pipeline: %s; node: %s; input: %s; shape: %s", g.name, nd.name, t.Name, (&device.TensorInfo{Shape: t.Shape}).ShapeString())
				}
			}
		}
	}
	inputs := map[string]*device.TensorInfo{}
	for _, nd := range g.nodes[1:] {
		for _, e := range nd.inputs {
			src := g.nodes[e.src]
			if nd == g.exit() {
				continue
			}
			want := tensorOf(nd.info.Inputs, e.input)
			if e.src == 0 {
				// The request's tensor: what the consumer needs, plus the
				// shard dimension when the pipeline demultiplexes.
				shape := slices.Clone(want.Shape)
				if entry.demux != 0 && len(nd.stack) > 0 {
					d := int64(-1)
					if entry.demux > 0 {
						d = int64(entry.demux)
					}
					shape = append([]int64{d}, shape...)
				}
				t := device.TensorInfo{Name: e.item, DType: want.DType, Shape: shape, Layout: want.Layout}
				if prev, ok := inputs[e.item]; ok && (prev.DType != t.DType || !slices.Equal(prev.Shape, t.Shape)) {
					return invalid(StatusAmbiguousInputMetadata, "pipeline: %s; input: %s", g.name, e.item)
				}
				inputs[e.item] = &t
				continue
			}
			have := tensorOf(src.info.Outputs, e.item)
			if have.DType != want.DType && have.DType != device.Invalid && want.DType != device.Invalid {
				return invalid(StatusInvalidPrecision, "pipeline: %s; node: %s; input: %s; Expected: %s; Actual: %s",
					g.name, nd.name, e.input, tensor.KServeName(want.DType), tensor.KServeName(have.DType))
			}
			shape := g.shapeAt(e.src, *have, nd)
			if !shapesMatch(want.Shape, shape) {
				w, h := device.TensorInfo{Shape: want.Shape}, device.TensorInfo{Shape: shape}
				return invalid(StatusInvalidShape, "pipeline: %s; node: %s; input: %s; Expected: %s; Actual: %s",
					g.name, nd.name, e.input, w.ShapeString(), h.ShapeString())
			}
		}
	}
	info := &device.ModelInfo{}
	for _, t := range entry.info.Outputs {
		if in, ok := inputs[t.Name]; ok {
			info.Inputs = append(info.Inputs, *in)
		} else {
			info.Inputs = append(info.Inputs, t) // read by the response only
		}
	}
	for _, e := range g.exit().inputs {
		src := g.nodes[e.src]
		var t device.TensorInfo
		if e.src == 0 {
			if in, ok := inputs[e.item]; ok {
				t = *in
			}
		} else {
			t = *tensorOf(src.info.Outputs, e.item)
			t.Shape = g.shapeAt(e.src, t, g.exit())
		}
		t.Name, t.Aliases = e.input, nil
		info.Outputs = append(info.Outputs, t)
	}
	g.info = info
	return nil
}

// shapesMatch compares shapes where -1 matches any size.
func shapesMatch(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] >= 0 && b[i] >= 0 && a[i] != b[i] {
			return false
		}
	}
	return true
}

// close ends the graph's custom node instances.
func (g *graph) close() {
	for _, nd := range g.nodes {
		if nd.custom != nil {
			nd.custom.Close()
			nd.custom = nil
		}
	}
}
