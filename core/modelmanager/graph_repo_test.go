package modelmanager

import (
	"context"
	"testing"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/tensor"
)

// TestRepositoryLoadUnloadLeaveGraphsAlone: the repository extension's
// load and unload manage models; a pipeline's name is not a model there
// (MODEL_NAME_MISSING), and the pipeline keeps serving.
func TestRepositoryLoadUnloadLeaveGraphsAlone(t *testing.T) {
	m := New(newFake(t, nil), quiet())
	if err := m.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	g := m.NewGraph("pipe", func(context.Context, *tensor.Request) (*tensor.Response, error) {
		return tensor.NewResponse("", 0, nil, nil), nil
	})
	g.Versions()[0].SetGraph(nil, StateAvailable, ErrOK)
	m.PublishGraphs(map[string]*Model{"pipe": g})
	if err := m.UnloadModel(context.Background(), "pipe"); !apierr.Is(err, apierr.ModelNameMissing) {
		t.Errorf("UnloadModel(pipeline): %v, want MODEL_NAME_MISSING", err)
	}
	if err := m.LoadModel(context.Background(), "pipe"); !apierr.Is(err, apierr.ModelNameMissing) {
		t.Errorf("LoadModel(pipeline): %v, want MODEL_NAME_MISSING", err)
	}
	if s, _ := g.Versions()[0].Status(); s != StateAvailable {
		t.Errorf("pipeline state %v after repository calls, want AVAILABLE", s)
	}
}
