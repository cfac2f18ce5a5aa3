package modelmanager

import (
	"context"
	"sort"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/tensor"
	"github.com/ovmsgo/ovms/plugins/device"
)

// GraphRunner runs one request through a graph servable (a DAG pipeline).
type GraphRunner func(ctx context.Context, req *tensor.Request) (*tensor.Response, error)

// GraphVersion is the one version a graph servable has (OVMS reports
// DAGs as version 1).
const GraphVersion = 1

// NewGraph makes a servable that is not a model: a DAG pipeline, served
// under name like a model with one version, GraphVersion, whose requests
// run through run. It starts in LOADING; the graph's owner sets its
// metadata and state (SetGraph) and publishes it with PublishGraphs. Its
// metrics are those of a model version of that name (nil: metrics off).
func (m *Manager) NewGraph(name string, run GraphRunner) *Model {
	mod := newModel(config.Model{Name: name}, 0, m.log.WithField("pipeline", name))
	mod.graph = true
	v := newVersion(mod, GraphVersion, "")
	v.run = run
	v.met = m.metrics.Version(name, GraphVersion)
	v.setState(StateLoading, ErrOK)
	mod.addVersion(v)
	return mod
}

// IsGraph reports whether the servable is a graph (NewGraph).
func (m *Model) IsGraph() bool { return m.graph }

// IsGraph reports whether the version is a graph's (a DAG pipeline).
func (v *Version) IsGraph() bool { return v.run != nil }

// SetGraph sets a graph version's metadata (nil keeps it) and state, as
// its owner validates it: AVAILABLE, LOADING with FAILED_PRECONDITION for
// a definition that does not validate, END once retired.
func (v *Version) SetGraph(info *device.ModelInfo, s State, c ErrorCode) {
	v.mu.Lock()
	if info != nil {
		v.info = info
	}
	v.setStateLocked(s, c)
	v.mu.Unlock()
}

// PublishGraphs makes graphs the graph servables, by name. A model of the
// same name that still serves wins the lookup.
func (m *Manager) PublishGraphs(graphs map[string]*Model) {
	m.graphs.Store(&graphs)
}

// graph finds a graph servable by name.
func (m *Manager) graph(name string) *Model {
	if g := m.graphs.Load(); g != nil {
		return (*g)[name]
	}
	return nil
}

// Servables lists the models and graphs sorted by name (a graph named
// like a retired model replaces it).
func (m *Manager) Servables() []*Model {
	all := *m.models.Load()
	byName := make(map[string]*Model, len(all))
	for n, mod := range all {
		byName[n] = mod
	}
	if g := m.graphs.Load(); g != nil {
		for n, mod := range *g {
			if old, ok := byName[n]; !ok || old.retired.Load() {
				byName[n] = mod
			}
		}
	}
	out := make([]*Model, 0, len(byName))
	for _, mod := range byName {
		out = append(out, mod)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// graphInfer runs a request on a graph version.
func (v *Version) graphInfer(ctx context.Context, req *tensor.Request) (*tensor.Response, error) {
	resp, err := v.run(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Model == "" {
		resp.Model, resp.Version = v.Model, v.Number
	}
	return resp, nil
}

// acquireGraph pins a graph's version for a request: the version asked
// for is ignored, as OVMS ignores it for DAGs.
func (mod *Model) acquireGraph(ctx context.Context) (*Version, error) {
	vs := mod.Versions()
	if len(vs) == 0 {
		return nil, apierr.New(apierr.ModelVersionMissing)
	}
	v := vs[0]
	// A definition that failed validation is not waited for.
	if s, c := v.Status(); s == StateLoading && c != ErrOK {
		return nil, apierr.New(apierr.PipelineDefinitionNotLoadedYet)
	}
	if err := v.Acquire(ctx, true); err != nil {
		return nil, graphError(err)
	}
	return v, nil
}

// graphError turns a version state error into OVMS's pipeline texts.
func graphError(err error) error {
	switch {
	case apierr.Is(err, apierr.ModelVersionNotLoadedYet):
		return apierr.New(apierr.PipelineDefinitionNotLoadedYet)
	case apierr.Is(err, apierr.ModelVersionNotLoadedAnymore):
		return apierr.New(apierr.PipelineDefinitionNotLoadedAnymore)
	}
	return err
}
