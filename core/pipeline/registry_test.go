package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/modelmanager"
	"github.com/ovmsgo/ovms/core/tensor"
)

func TestRegistryLifecycle(t *testing.T) {
	ctx := context.Background()
	mgr := modelmanager.New(nil, logrus.NewEntry(logrus.New()))
	models := testModels(t)
	r := New(mgr, nil, logrus.NewEntry(logrus.New()))
	r.models = models
	state := func() (modelmanager.State, modelmanager.ErrorCode) {
		mod, err := mgr.Model("p")
		if err != nil {
			t.Fatal(err)
		}
		return mod.Versions()[0].Status()
	}
	infer := func() error {
		v, err := mgr.Acquire(ctx, "p", 0)
		if err != nil {
			return err
		}
		defer v.Release()
		resp, err := v.Infer(ctx, &tensor.Request{Inputs: []tensor.Input{input("in", []int64{1, 3}, 1, 2, 3)}})
		if err != nil {
			return err
		}
		defer resp.Release()
		if resp.Model != "p" || resp.Version != 1 {
			t.Errorf("response of %s %d", resp.Model, resp.Version)
		}
		return nil
	}
	if !r.Apply(ctx, []config.Pipeline{basePipeline()}) {
		t.Error("a new pipeline is a change")
	}
	if s, c := state(); s != modelmanager.StateAvailable || c != modelmanager.ErrOK {
		t.Fatalf("state %v %v", s, c)
	}
	if err := infer(); err != nil {
		t.Fatal(err)
	}
	if v, err := mgr.Available("p", 1); err != nil || v.Info().Inputs[0].Name != "in" || !slices.Equal(v.Info().Inputs[0].Shape, []int64{1, 3}) {
		t.Errorf("metadata: %v", err)
	}
	if _, err := mgr.Available("p", 2); !apierr.Is(err, apierr.ModelVersionMissing) {
		t.Errorf("version 2: %v", err)
	}
	if r.Apply(ctx, []config.Pipeline{basePipeline()}) {
		t.Error("nothing changed, yet a change was reported")
	}
	// A model the pipeline uses goes away: LOADING, FAILED_PRECONDITION,
	// and requests fail at once with OVMS's text.
	dbl := models.m["dbl"]
	delete(models.m, "dbl")
	if !r.Apply(ctx, []config.Pipeline{basePipeline()}) {
		t.Error("revalidation failure is a change")
	}
	if s, c := state(); s != modelmanager.StateLoading || c != modelmanager.ErrFailedPrecondition {
		t.Fatalf("state %v %v", s, c)
	}
	start := time.Now()
	if err := infer(); !apierr.Is(err, apierr.PipelineDefinitionNotLoadedYet) || time.Since(start) > time.Second {
		t.Errorf("request to an invalid pipeline: %v after %v", err, time.Since(start))
	}
	// It comes back, as a new version object: validated again.
	models.m["dbl"] = elementwise(t, dbl.info.Inputs[0], dbl.info.Outputs[0], scale(2))
	r.Apply(ctx, []config.Pipeline{basePipeline()})
	if s, _ := state(); s != modelmanager.StateAvailable {
		t.Fatalf("state %v", s)
	}
	g, done := r.defs["p"].graph.take()
	done()
	old := g
	models.m["dbl"] = elementwise(t, dbl.info.Inputs[0], dbl.info.Outputs[0], scale(2))
	if !r.Apply(ctx, []config.Pipeline{basePipeline()}) {
		t.Error("a changed model version is a change")
	}
	if g, done := r.defs["p"].graph.take(); g == old {
		t.Error("not validated again after the model changed")
	} else {
		done()
	}
	// Removed from the configuration: END, "Pipeline is retired".
	r.Apply(ctx, nil)
	if s, _ := state(); s != modelmanager.StateEnd {
		t.Fatalf("state %v", s)
	}
	if err := infer(); !apierr.Is(err, apierr.PipelineDefinitionNotLoadedAnymore) {
		t.Errorf("retired: %v", err)
	}
	if _, err := mgr.Model("nope"); !apierr.Is(err, apierr.ModelNameMissing) {
		t.Errorf("unknown name: %v", err)
	}
	if models.pinned.Load() != 0 || models.leased.Load() != 0 {
		t.Errorf("%d pinned, %d leased", models.pinned.Load(), models.leased.Load())
	}
}

// TestRegistryKeepsPipelinesOfLoadingModels: a reload that finds a model
// being loaded again (its plugin restarting) leaves its pipelines serving.
func TestRegistryKeepsPipelinesOfLoadingModels(t *testing.T) {
	ctx := context.Background()
	mgr := modelmanager.New(nil, logrus.NewEntry(logrus.New()))
	models := testModels(t)
	r := New(mgr, nil, logrus.NewEntry(logrus.New()))
	r.models = models
	r.Apply(ctx, []config.Pipeline{basePipeline()})
	models.loading = map[string]bool{"dbl": true}
	if r.Apply(ctx, []config.Pipeline{basePipeline()}) {
		t.Error("a loading model changed the pipeline")
	}
	mod, _ := mgr.Model("p")
	if s, _ := mod.Versions()[0].Status(); s != modelmanager.StateAvailable {
		t.Errorf("state %v", s)
	}
	// A new definition cannot be validated while the model loads.
	q := basePipeline()
	q.Name = "q"
	r.Apply(ctx, []config.Pipeline{basePipeline(), q})
	mod, _ = mgr.Model("q")
	if s, c := mod.Versions()[0].Status(); s != modelmanager.StateLoading || c != modelmanager.ErrFailedPrecondition {
		t.Errorf("q: %v %v", s, c)
	}
}
