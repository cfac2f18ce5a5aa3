package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/modelmanager"
)

// trackingOpener is fakeOpener with libraries that come and go (the
// custom node host's LibraryTracker) and params its factory refuses.
type trackingOpener struct {
	fakeOpener
	libs map[string]*int // library name -> identity; absent: not configured
}

func (o *trackingOpener) Library(name string) any {
	if id, ok := o.libs[name]; ok {
		return id
	}
	return nil
}

func (o *trackingOpener) Open(ctx context.Context, library, node string, params map[string]string) (Node, error) {
	if _, ok := o.libs[library]; !ok {
		return nil, errors.New("custom node library is not in custom_node_library_config_list: " + library)
	}
	if params["bad"] != "" {
		return nil, apierr.Wrap(apierr.NodeLibraryInitializeFailed, nil, "node %s of library %s: initialize: param bad", node, library)
	}
	return o.fakeOpener.Open(ctx, "neg", node, params)
}

func customPipeline(params map[string]string) config.Pipeline {
	p := basePipeline()
	p.Nodes[1] = config.Node{Name: "b", Kind: config.NodeCustom, LibraryName: "neg", Params: params, Inputs: []config.Connection{conn("x", "a", "a_out")},
		Outputs: []config.OutputAlias{{DataItem: "neg", Alias: "b_out"}}}
	return p
}

// TestCustomNodeInitializeFailed: a library that refuses a node's params
// fails validation with OVMS's NODE_LIBRARY_INITIALIZE_FAILED text, not
// the missing-library one.
func TestCustomNodeInitializeFailed(t *testing.T) {
	o := &trackingOpener{libs: map[string]*int{"neg": new(int)}}
	_, err := validate(context.Background(), customPipeline(map[string]string{"bad": "1"}), testModels(t), o)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Status != StatusNodeLibraryInitializeFailed {
		t.Fatalf("got %v, want %q", err, StatusNodeLibraryInitializeFailed)
	}
	if want := "Failure during custom node library initialization - pipeline: p; node: b; library: neg; node b of library neg: initialize: param bad"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	delete(o.libs, "neg")
	if _, err := validate(context.Background(), customPipeline(nil), testModels(t), o); !errors.As(err, &ve) || ve.Status != StatusInvalidNodeLibrary {
		t.Errorf("without the library: %v", err)
	}
}

// TestRegistryFollowsLibraries: a pipeline is validated again when a
// library it uses leaves the configuration (LOADING, FAILED_PRECONDITION)
// and when it comes back (AVAILABLE), though no model changed; a library
// that stays (a restart) changes nothing.
func TestRegistryFollowsLibraries(t *testing.T) {
	ctx := context.Background()
	mgr := modelmanager.New(nil, logrus.NewEntry(logrus.New()))
	o := &trackingOpener{libs: map[string]*int{"neg": new(int)}}
	r := New(mgr, o, logrus.NewEntry(logrus.New()))
	r.models = testModels(t)
	state := func() modelmanager.State {
		mod, err := mgr.Model("p")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := mod.Versions()[0].Status()
		return s
	}
	p := []config.Pipeline{customPipeline(nil)}
	if !r.Apply(ctx, p) || state() != modelmanager.StateAvailable {
		t.Fatalf("state %v", state())
	}
	if r.Apply(ctx, p) {
		t.Error("nothing changed, yet Apply reports a change")
	}
	delete(o.libs, "neg")
	if !r.Apply(ctx, p) {
		t.Error("a removed library is a change")
	}
	mod, _ := mgr.Model("p")
	if s, c := mod.Versions()[0].Status(); s != modelmanager.StateLoading || c != modelmanager.ErrFailedPrecondition {
		t.Errorf("without its library: %v %v", s, c)
	}
	o.libs["neg"] = new(int)
	if !r.Apply(ctx, p) || state() != modelmanager.StateAvailable {
		t.Errorf("library back: %v", state())
	}
}
