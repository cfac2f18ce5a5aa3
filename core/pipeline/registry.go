package pipeline

import (
	"context"
	"reflect"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
)

// Registry keeps the served pipelines: it validates each definition
// against the models (at startup, on every configuration change and
// whenever a model a pipeline uses changes), and serves them through the
// model manager as graphs: every API resolves a pipeline name like a
// model's, with one version, 1.
type Registry struct {
	mgr    *modelmanager.Manager
	models Models
	opener NodeOpener
	log    *logrus.Entry

	mu   sync.Mutex
	defs map[string]*definition
}

// definition is one pipeline name's current definition and graph.
type definition struct {
	cfg     config.Pipeline
	mod     *modelmanager.Model
	graph   atomicGraph
	retired bool
	err     string // the last validation failure (logged once)
}

// atomicGraph is the graph requests use now; nil while invalid.
type atomicGraph struct {
	mu sync.RWMutex
	g  *graph
	// active counts the requests on each graph, so a replaced graph's
	// custom nodes close only after them.
	active map[*graph]*sync.WaitGroup
}

func (a *atomicGraph) take() (*graph, func()) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.g == nil {
		return nil, func() {}
	}
	wg := a.active[a.g]
	wg.Add(1)
	return a.g, wg.Done
}

// swap installs g and closes the previous graph after its requests.
func (a *atomicGraph) swap(g *graph) {
	a.mu.Lock()
	old := a.g
	a.g = g
	if a.active == nil {
		a.active = map[*graph]*sync.WaitGroup{}
	}
	if g != nil {
		a.active[g] = &sync.WaitGroup{}
	}
	var wg *sync.WaitGroup
	if old != nil {
		wg = a.active[old]
		delete(a.active, old)
	}
	a.mu.Unlock()
	if old != nil && old != g {
		go func() {
			wg.Wait()
			old.close()
		}()
	}
}

// New returns a registry over the model manager; opener opens custom
// nodes (nil: custom nodes fail validation as a missing library).
func New(mgr *modelmanager.Manager, opener NodeOpener, log *logrus.Entry) *Registry {
	return &Registry{mgr: mgr, models: ManagerModels{mgr}, opener: opener, log: log, defs: map[string]*definition{}}
}

// Apply serves the configuration's pipelines: new ones are validated and
// published, changed ones validated again, removed ones retired (END, as
// OVMS keeps them listed); every other one is validated again when a
// model version it uses changed or went away. A definition that does not
// validate is LOADING with FAILED_PRECONDITION (its requests get
// "Pipeline is not loaded yet") until a later Apply validates it. It
// reports whether anything changed.
func (r *Registry) Apply(ctx context.Context, pipelines []config.Pipeline) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	want := map[string]bool{}
	for _, cfg := range pipelines {
		want[cfg.Name] = true
		d := r.defs[cfg.Name]
		if d == nil {
			d = &definition{cfg: cfg}
			d.mod = r.mgr.NewGraph(cfg.Name, d.runner(r))
			r.defs[cfg.Name] = d
			changed = true
		} else if d.retired || !reflect.DeepEqual(d.cfg, cfg) {
			d.cfg, d.retired, d.err = cfg, false, ""
			d.graph.swap(nil)
			changed = true
		}
		if r.revalidate(ctx, d) {
			changed = true
		}
	}
	for name, d := range r.defs {
		if !want[name] && !d.retired {
			d.retired = true
			d.graph.swap(nil)
			d.mod.Versions()[0].SetGraph(nil, modelmanager.StateEnd, modelmanager.ErrOK)
			r.log.WithField("pipeline", name).Info("pipeline removed from the configuration; retired")
			changed = true
		}
	}
	graphs := make(map[string]*modelmanager.Model, len(r.defs))
	for name, d := range r.defs {
		graphs[name] = d.mod
	}
	r.mgr.PublishGraphs(graphs)
	return changed
}

// revalidate validates d when it has no graph or the model versions it
// was validated against changed; it reports a state change.
func (r *Registry) revalidate(ctx context.Context, d *definition) bool {
	cur, done := d.graph.take()
	done()
	if cur != nil {
		key, loading := r.keyOf(d.cfg)
		// A model version that is being loaded again (e.g. while its
		// restarted plugin takes it back) keeps the pipeline as it is: its
		// requests wait for the version as a model's requests do.
		if key == cur.key || loading {
			return false
		}
	}
	log := r.log.WithField("pipeline", d.cfg.Name)
	v := d.mod.Versions()[0]
	g, err := validate(ctx, d.cfg, r.models, r.opener)
	if err != nil {
		d.graph.swap(nil)
		if msg := err.Error(); msg != d.err {
			log.WithError(err).Error("pipeline definition validation failed")
			d.err = msg
		}
		st, code := v.Status()
		v.SetGraph(nil, modelmanager.StateLoading, modelmanager.ErrFailedPrecondition)
		return st != modelmanager.StateLoading || code != modelmanager.ErrFailedPrecondition
	}
	d.err = ""
	d.graph.swap(g)
	v.SetGraph(g.info, modelmanager.StateAvailable, modelmanager.ErrOK)
	if cur == nil {
		log.Info("pipeline definition validated; available")
	} else {
		log.Info("a model the pipeline uses changed; pipeline validated again")
	}
	return true
}

// keyOf fingerprints the model versions (and custom node libraries) a
// definition's nodes would use now, as validate records them in a graph's
// key; loading reports a model
// version that is loading without error.
func (r *Registry) keyOf(cfg config.Pipeline) (key string, loading bool) {
	var keys []string
	for _, n := range cfg.Nodes {
		switch n.Kind {
		case config.NodeCustom:
			if r.opener != nil {
				keys = append(keys, libraryKey(r.opener, n.LibraryName))
			}
			continue
		case config.NodeModel:
		default:
			continue
		}
		m, err := r.models.Describe(n.ModelName, n.Version)
		if err != nil {
			return "\x00missing", apierr.Is(err, apierr.ModelVersionNotLoadedYet)
		}
		keys = append(keys, modelKey(n.ModelName, m.Key))
	}
	return joinKeys(keys), false
}

// runner serves a request on the definition's current graph.
func (d *definition) runner(r *Registry) modelmanager.GraphRunner {
	return func(ctx context.Context, req *tensor.Request) (*tensor.Response, error) {
		g, done := d.graph.take()
		if g == nil {
			done()
			return nil, apierr.New(apierr.PipelineDefinitionNotLoadedYet)
		}
		// The graph (its custom nodes) stays until the response is released.
		resp, err := g.run(ctx, r.models, req, done)
		if err != nil {
			done()
			return nil, err
		}
		return resp, nil
	}
}

// Close ends every pipeline's custom nodes.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.defs {
		d.graph.swap(nil)
	}
}

// ManagerModels gives pipelines the model manager's models.
type ManagerModels struct{ M *modelmanager.Manager }

// Describe finds the AVAILABLE version a node uses (version 0: the
// highest AVAILABLE one). A version being loaded again without error
// (a restarted plugin taking it back) gives MODEL_VERSION_NOT_LOADED_YET;
// a failed or retired one, or none, MODEL_VERSION_MISSING.
func (m ManagerModels) Describe(name string, version int64) (*Model, error) {
	mod, err := m.M.Model(name)
	if err != nil {
		return nil, err
	}
	if mod.IsGraph() {
		return nil, apierr.New(apierr.ModelNameMissing)
	}
	loading := false
	vs := mod.Versions()
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		if version != 0 && v.Number != version {
			continue
		}
		switch st, code := v.Status(); {
		case st == modelmanager.StateAvailable:
			return &Model{Info: v.Info(), Dynamic: !v.FixedShapes(), Stateful: v.Stateful(), Key: v}, nil
		case (st == modelmanager.StateLoading || st == modelmanager.StateStart) && code == modelmanager.ErrOK:
			loading = true
		}
	}
	if loading {
		return nil, apierr.New(apierr.ModelVersionNotLoadedYet)
	}
	return nil, apierr.New(apierr.ModelVersionMissing)
}

// Acquire pins the version a node uses for one request.
func (m ManagerModels) Acquire(ctx context.Context, name string, version int64) (Runner, error) {
	return m.M.Acquire(ctx, name, version)
}
